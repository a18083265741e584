# shellcheck shell=bash
# Look before acting: classify the backing device as "blank" (safe to format), "ours" (a LUKS
# device this stack created: same UUID and label), or refuse with a reason.

# Creates the sparse image file for file-backed volumes. A file we just created is blank.
ep_prepare_backing() {
  if [ "$EP_BACKING" = "file" ]; then
    if [ ! -e "$EP_SOURCE" ]; then
      mkdir -p "$(dirname "$EP_SOURCE")"
      chmod 0700 "$(dirname "$EP_SOURCE")"
      ( umask 077 && truncate -s "$EP_SIZE_BYTES" "$EP_SOURCE" )
      ep_log "created sparse image $EP_SOURCE ($EP_SIZE_BYTES bytes)"
      ep_did created-image
    fi
    [ -f "$EP_SOURCE" ] || ep_die "$EP_SOURCE exists but is not a regular file"
  else
    [ -b "$EP_SOURCE" ] || ep_die "$EP_SOURCE is not a block device"
  fi
}

# Signatures (filesystems, partition tables, RAID, LUKS...) found by util-linux.
ep_signatures() {
  local sigs=""
  sigs=$(wipefs --no-act --noheadings --output TYPE "$EP_SOURCE" 2>/dev/null | sort -u | tr '\n' ' ') || true
  local probe=""
  probe=$(blkid -p -o export "$EP_SOURCE" 2>/dev/null | sed -n 's/^\(TYPE\|PTTYPE\)=//p' | tr '\n' ' ') || true
  printf '%s %s' "$sigs" "$probe" | tr -s ' ' | sed 's/^ //; s/ $//'
}

# True when the first MiB holds only zero bytes (no unknown data we could destroy).
ep_head_is_zero() {
  local nonzero
  nonzero=$(head -c 1048576 "$EP_SOURCE" | tr -d '\000' | head -c 1 | wc -c)
  [ "$nonzero" -eq 0 ]
}

ep_device_in_use() {
  local name holders
  [ -b "$EP_SOURCE" ] || return 1
  name=$(basename "$(readlink -f "$EP_SOURCE")")
  holders=$(ls -A "/sys/class/block/$name/holders" 2>/dev/null || true)
  [ -n "$holders" ]
}

# Prints "blank" or "ours"; exits with an error for anything else.
ep_preflight() {
  if ep_is_luks; then
    local uuid label version
    uuid=$(cryptsetup luksUUID "$EP_SOURCE" 2>/dev/null || true)
    label=$(ep_luks_field Label)
    version=$(ep_luks_field Version)
    if [ "$uuid" = "$EP_UUID" ] && [ "$label" = "$EP_LABEL" ]; then
      [ "$version" = "2" ] || ep_die "$EP_SOURCE is ours but LUKS version $version (expected 2)"
      printf 'ours\n'
      return 0
    fi
    ep_die "refusing to touch $EP_SOURCE: it holds a LUKS header this stack did not create (UUID '$uuid', label '$label'; expected UUID '$EP_UUID', label '$EP_LABEL')"
  fi
  local sigs
  sigs=$(ep_signatures)
  if [ -n "$sigs" ]; then
    ep_die "refusing to touch $EP_SOURCE: it holds data ($sigs). Nothing was changed. Use an empty device, or wipe it yourself if the data is not needed."
  fi
  if ep_device_in_use; then
    ep_die "refusing to touch $EP_SOURCE: it is in use by another device (see /sys/class/block/*/holders)"
  fi
  if ! ep_head_is_zero; then
    ep_die "refusing to touch $EP_SOURCE: no known signature, but its first MiB is not blank (unknown data). Nothing was changed. Zero it yourself if the data is not needed."
  fi
  printf 'blank\n'
}
