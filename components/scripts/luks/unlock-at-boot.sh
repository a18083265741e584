# shellcheck shell=bash
# encrypted-platform-unlock: opens the encrypted-platform LUKS volumes listed in /etc/crypttab
# with their root-only keyfiles and mounts them as /etc/fstab says. Installed on the Docker host by
# the volume scripts (crypttab mode), rendered with the common and volume lock libraries before
# it: each volume is opened and mounted under the same lock the LUKS and file programs take. systemd hosts
# run it from encrypted-platform-unlock.service before docker.service; hosts without systemd call
# it from their init before starting dockerd.
# Idempotent: open mappings and mounted filesystems are left alone.

crypttab=${EP_CRYPTTAB:-/etc/crypttab}
fstab=${EP_FSTAB:-/etc/fstab}
status=0

# Messages (ep_log, common.sh) name the helper; shellcheck sees no caller in this file alone.
# shellcheck disable=SC2317
ep_log_tag() { printf 'encrypted-platform-unlock'; }

is_mounted() {
  local want id parent devnum root mnt rest
  want=$(ep_mountinfo_escape "$1")
  while read -r id parent devnum root mnt rest; do
    : "$id" "$parent" "$devnum" "$root" "$rest"
    if [ "$mnt" = "$want" ]; then return 0; fi
  done </proc/self/mountinfo
  return 1
}

[ -f "$crypttab" ] || exit 0
ep_require_root
ep_require_tools cryptsetup blkid mount flock

while read -r name source keyfile _options; do
  case "$name" in ep-*) ;; *) continue ;; esac
  ep_lock_volume "$name"
  if cryptsetup status "$name" >/dev/null 2>&1; then ep_unlock_volume; continue; fi
  device=$source
  if [ "${source#UUID=}" != "$source" ]; then
    device=$(blkid -U "${source#UUID=}" 2>/dev/null) || { ep_log "$name: no device with $source"; status=1; ep_unlock_volume; continue; }
  fi
  if cryptsetup open --type luks2 --key-file "$keyfile" -- "$device" "$name"; then
    ep_log "$name: opened"
  else
    ep_log "$name: could not open $device"
    status=1
  fi
  ep_unlock_volume
done < <(grep -v '^[[:space:]]*#' "$crypttab")

[ -f "$fstab" ] || exit "$status"
while read -r source target fstype options _rest; do
  case "$source" in /dev/mapper/ep-*) ;; *) continue ;; esac
  [ -e "$source" ] || continue
  ep_lock_volume "${source#/dev/mapper/}"
  if is_mounted "$target"; then ep_unlock_volume; continue; fi
  opts=$(printf '%s' "$options" | tr ',' '\n' | grep -v -e '^defaults$' -e '^nofail$' -e '^x-' | paste -sd, -)
  if mount -t "$fstype" ${opts:+-o "$opts"} -- "$source" "$target"; then
    ep_log "$source: mounted on $target"
  else
    ep_log "$source: could not mount on $target"
    status=1
  fi
  ep_unlock_volume
done < <(grep -v '^[[:space:]]*#' "$fstab")

exit "$status"
