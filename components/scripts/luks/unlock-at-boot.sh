#!/usr/bin/env bash
# encrypted-platform-unlock: opens the encrypted-platform LUKS volumes listed in /etc/crypttab
# with their root-only keyfiles and mounts them as /etc/fstab says. Installed on the Docker host by
# the volume scripts (crypttab mode). systemd hosts run it from encrypted-platform-unlock.service
# before docker.service; hosts without systemd call it from their init before starting dockerd.
# Idempotent: open mappings and mounted filesystems are left alone.
set -euo pipefail

crypttab=${EP_CRYPTTAB:-/etc/crypttab}
fstab=${EP_FSTAB:-/etc/fstab}
status=0

log() { printf 'encrypted-platform-unlock: %s\n' "$*" >&2; }

[ -f "$crypttab" ] || exit 0

while read -r name source keyfile _options; do
  case "$name" in ep-*) ;; *) continue ;; esac
  if cryptsetup status "$name" >/dev/null 2>&1; then continue; fi
  device=$source
  if [ "${source#UUID=}" != "$source" ]; then
    device=$(blkid -U "${source#UUID=}" 2>/dev/null) || { log "$name: no device with $source"; status=1; continue; }
  fi
  if cryptsetup open --type luks2 --key-file "$keyfile" "$device" "$name"; then
    log "$name: opened"
  else
    log "$name: could not open $device"
    status=1
  fi
done < <(grep -v '^[[:space:]]*#' "$crypttab")

[ -f "$fstab" ] || exit "$status"
while read -r source target fstype options _rest; do
  case "$source" in /dev/mapper/ep-*) ;; *) continue ;; esac
  [ -e "$source" ] || continue
  if awk -v t="$target" '$5 == t {found = 1} END {exit !found}' /proc/self/mountinfo; then continue; fi
  opts=$(printf '%s' "$options" | tr ',' '\n' | grep -v -e '^defaults$' -e '^nofail$' -e '^x-' | paste -sd, -)
  if mount -t "$fstype" ${opts:+-o "$opts"} "$source" "$target"; then
    log "$source: mounted on $target"
  else
    log "$source: could not mount on $target"
    status=1
  fi
done < <(grep -v '^[[:space:]]*#' "$fstab")

exit "$status"
