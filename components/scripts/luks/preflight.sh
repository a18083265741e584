# shellcheck shell=bash
# Look before acting: classify the backing device as "blank" (safe to format), "ours" (a LUKS
# device this stack created: same UUID and label), or refuse with a reason.

# Creates the sparse image file for file-backed volumes. A file we just created is blank.
ep_prepare_backing() {
  if [ "$EP_BACKING" = "file" ]; then
    if [ ! -e "$EP_SOURCE" ] && [ ! -L "$EP_SOURCE" ]; then
      ep_root_directory "$(dirname -- "$EP_SOURCE")"
      ( umask 077 && truncate -s "$EP_SIZE_BYTES" -- "$EP_SOURCE" )
      ep_log "created sparse image $EP_SOURCE ($EP_SIZE_BYTES bytes)"
      ep_did created-image
    fi
    if [ -L "$EP_SOURCE" ] || [ ! -f "$EP_SOURCE" ]; then ep_die "$EP_SOURCE exists but is not a regular file"; fi
  else
    [ -b "$EP_SOURCE" ] || ep_die "$EP_SOURCE is not a block device"
  fi
}

# A changed size of an image file that already holds our volume is refused, not half-applied:
# growing needs the image, the loop device, the LUKS mapping and the filesystem grown in turn while
# the volume is open, and shrinking would cut off data. What to do instead is in
# docs/runbooks/resize-a-volume.md.
ep_refuse_resize() {
  local actual
  actual=$(ep_source_size)
  if [ "$actual" != "$EP_SIZE_BYTES" ]; then
    ep_die "encrypted-platform:volumes.$EP_VOLUME.size asks for $EP_SIZE_BYTES bytes but $EP_SOURCE holds $actual: resizing an existing volume is not done by pulumi up (see docs/runbooks/resize-a-volume.md); set the size back to $actual bytes"
  fi
}

# Where else util-linux looks for signatures: partitions and filesystems start at these offsets
# when a partition table was lost or never written (63 sectors: DOS; 1 MiB and up: every modern
# partitioner; 16 MiB and up: past the LUKS2 header area, where mkfs will write).
EP_PROBE_OFFSETS="32256 1048576 2097152 4194304 8388608 16777216 33554432 67108864 134217728"

ep_source_size() {
  if [ -b "$EP_SOURCE" ]; then blockdev --getsize64 "$EP_SOURCE"; else stat -L -c %s -- "$EP_SOURCE"; fi
}

# Signatures (filesystems, partition tables, RAID, LUKS...) found by util-linux: wipefs and blkid
# over the whole device (both probe the start and the end), then blkid at each common offset.
ep_signatures() {
  local sigs="" probe="" offset size found
  sigs=$(wipefs --no-act --noheadings --output TYPE -- "$EP_SOURCE" 2>/dev/null | sort -u | tr '\n' ' ') || true
  probe=$(blkid -p -o export -- "$EP_SOURCE" 2>/dev/null | sed -n 's/^\(TYPE\|PTTYPE\)=//p' | tr '\n' ' ') || true
  size=$(ep_source_size)
  for offset in $EP_PROBE_OFFSETS; do
    [ "$offset" -lt "$size" ] || break
    found=$(blkid -p -O "$offset" -o export -- "$EP_SOURCE" 2>/dev/null | sed -n 's/^\(TYPE\|PTTYPE\)=//p' | tr '\n' ' ') || true
    if [ -n "$found" ]; then probe+="${found% } at byte $offset "; fi
  done
  printf '%s %s' "$sigs" "$probe" | tr -s ' ' | sed 's/^ //; s/ $//'
}

# True when every byte luksFormat will overwrite (the whole LUKS2 header area, EP_HEADER_AREA_BYTES,
# from the same constants the format step passes) is zero: no unknown data we could destroy.
ep_header_area_is_zero() {
  local size length
  size=$(ep_source_size)
  length=$EP_HEADER_AREA_BYTES
  if [ "$size" -lt "$length" ]; then length=$size; fi
  cmp -s -n "$length" -- "$EP_SOURCE" /dev/zero
}

ep_is_swap() {
  local swap _rest
  [ -r /proc/swaps ] || return 1
  while read -r swap _rest; do
    if [ "$swap" -ef "$1" ]; then return 0; fi
  done < <(tail -n +2 /proc/swaps)
  return 1
}

# Everything that holds the device (or the image file) now, one reason per line: kernel holders
# (device-mapper, md), partitions, mounts, swap, loop devices backed by the image file, and every
# process with it open (O_EXCL or not; the open file descriptors of all processes, compared by
# device and inode, so no name spelling can hide one).
ep_holders() {
  local real name devnum fd pid loop backing
  real=$(readlink -f -- "$EP_SOURCE")
  if [ -b "$real" ]; then
    name=$(basename -- "$real")
    for fd in /sys/class/block/"$name"/holders/*; do
      if [ -e "$fd" ] || [ -L "$fd" ]; then printf 'held by %s\n' "$(basename -- "$fd")"; fi
    done
    for fd in /sys/class/block/"$name"/*/partition; do
      if [ -e "$fd" ]; then printf 'has partition %s\n' "$(basename -- "$(dirname -- "$fd")")"; fi
    done
    devnum=$(cat "/sys/class/block/$name/dev" 2>/dev/null || true)
    if [ -n "$devnum" ] && awk -v d="$devnum" '$3 == d {found = 1} END {exit !found}' /proc/self/mountinfo; then
      printf 'mounted\n'
    fi
    if ep_is_swap "$real"; then printf 'used as swap\n'; fi
  else
    for backing in /sys/block/loop*/loop/backing_file; do
      [ -e "$backing" ] || continue
      if [ "$(cat "$backing" 2>/dev/null)" = "$real" ]; then
        loop=${backing#/sys/block/}
        printf 'attached to /dev/%s\n' "${loop%%/*}"
      fi
    done
    if command -v losetup >/dev/null 2>&1; then
      while IFS= read -r loop; do
        if [ -n "$loop" ]; then printf 'attached to %s\n' "${loop%%:*}"; fi
      done < <(losetup -j "$real" 2>/dev/null || true)
    fi
  fi
  for fd in /proc/[0-9]*/fd/*; do
    pid=${fd#/proc/}
    pid=${pid%%/*}
    if [ "$pid" != "$$" ] && [ "$pid" != "$BASHPID" ] && [ "$fd" -ef "$real" ]; then
      printf 'open by process %s (%s)\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-60)"
    fi
  done
}

# The number of key slots in the header; exits when the header cannot be read, so an unreadable
# header never counts as one without slots.
ep_keyslot_count() {
  local dump
  dump=$(cryptsetup luksDump -- "$EP_SOURCE") || ep_die "cannot read the LUKS header of $EP_SOURCE"
  printf '%s\n' "$dump" | awk '/^Keyslots:$/ {slots = 1; next} /^[^[:space:]]/ {slots = 0} slots && /^  [0-9]+: / {n++} END {print n + 0}'
}

# Prints "blank", "ours", or "unkeyed" (our header, still marked as waiting for its filesystem, and
# without a single key slot: luksFormat writes the header first and adds the first key slot after
# it, so a run cut off in between leaves this; no key ever existed, nothing can be under it, and
# formatting again is safe); exits with an error for anything else.
ep_preflight() {
  if ep_is_luks; then
    local uuid label version
    uuid=$(cryptsetup luksUUID -- "$EP_SOURCE" 2>/dev/null || true)
    label=$(ep_luks_field Label)
    version=$(ep_luks_field Version)
    if [ "$uuid" = "$EP_UUID" ] && [ "$label" = "$EP_LABEL" ]; then
      [ "$version" = "2" ] || ep_die "$EP_SOURCE is ours but LUKS version $version (expected 2)"
      if [ "$EP_BACKING" = "file" ]; then ep_refuse_resize; fi
      if [ "$(ep_luks_field Subsystem)" = "$EP_SUBSYSTEM_PENDING" ] && [ "$(ep_keyslot_count)" = 0 ]; then
        printf 'unkeyed\n'
        return 0
      fi
      printf 'ours\n'
      return 0
    fi
    ep_die "refusing to touch $EP_SOURCE: it holds a LUKS header this stack did not create (UUID '$uuid', label '$label'; expected UUID '$EP_UUID', label '$EP_LABEL')"
  fi
  local sigs holders
  sigs=$(ep_signatures)
  if [ -n "$sigs" ]; then
    ep_die "refusing to touch $EP_SOURCE: it holds data ($sigs). Nothing was changed. Use an empty device, or wipe it yourself if the data is not needed."
  fi
  # udev opens a device briefly to probe it after a change: let it finish, so only a real holder
  # is reported.
  if command -v udevadm >/dev/null 2>&1; then udevadm settle --timeout=10 >/dev/null 2>&1 || true; fi
  holders=$(ep_holders | sort -u | tr '\n' ';' | sed 's/;$//; s/;/; /g')
  if [ -n "$holders" ]; then
    ep_die "refusing to touch $EP_SOURCE: it is in use ($holders). Nothing was changed."
  fi
  if ! ep_header_area_is_zero; then
    ep_die "refusing to touch $EP_SOURCE: no known signature, but its first $EP_HEADER_AREA_BYTES bytes (the LUKS2 header area luksFormat overwrites) are not blank (unknown data). Nothing was changed. Zero them yourself if the data is not needed."
  fi
  printf 'blank\n'
}

# Before destroyDataOnDelete erases anything: "ours" (our UUID and label, as the preflight checks
# them), "blank" (an image or device that never held anything), "absent", or a refusal.
ep_destroy_check() {
  if [ ! -e "$EP_SOURCE" ]; then printf 'absent\n'; return 0; fi
  if [ "$EP_BACKING" = "file" ]; then
    if [ -L "$EP_SOURCE" ] || [ ! -f "$EP_SOURCE" ]; then ep_die "refusing to destroy $EP_SOURCE: not a regular file"; fi
  else
    [ -b "$EP_SOURCE" ] || ep_die "refusing to destroy $EP_SOURCE: not a block device"
  fi
  if ep_is_luks; then
    local uuid label
    uuid=$(cryptsetup luksUUID -- "$EP_SOURCE" 2>/dev/null || true)
    label=$(ep_luks_field Label)
    if [ "$uuid" = "$EP_UUID" ] && [ "$label" = "$EP_LABEL" ]; then printf 'ours\n'; return 0; fi
    ep_die "refusing to destroy $EP_SOURCE: it holds a LUKS header this stack did not create (UUID '$uuid', label '$label'; expected UUID '$EP_UUID', label '$EP_LABEL'). Nothing was erased."
  fi
  local sigs
  sigs=$(ep_signatures)
  if [ -n "$sigs" ] || ! ep_header_area_is_zero; then
    ep_die "refusing to destroy $EP_SOURCE: it holds data this stack did not create (${sigs:-no LUKS header, unknown data}). Nothing was erased."
  fi
  printf 'blank\n'
}
