# shellcheck shell=bash
# encrypted-platform-unlock: opens the encrypted-platform LUKS volumes listed in /etc/crypttab
# with their root-only keyfiles (or, for entries whose key field is `none`, through clevis: the Tang
# servers or the TPM their key slot is bound to) and mounts them as /etc/fstab says. Installed on the Docker host by
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

# Opens a volume through its clevis slots: clevis recovers a slot's key (Tang, TPM)
# into a pipe, and cryptsetup opens that one slot with it (no other slot's KDF is tried). The
# network may come up a little after this runs: a few tries, each bounded (clevis' HTTP client has
# no timeout of its own, and an unreachable server must not hold the boot forever).
clevis_unlock() {
  local device=$1 name=$2 try slot slots
  command -v clevis >/dev/null 2>&1 || { ep_log "$name: clevis is not installed"; return 1; }
  for try in 1 2 3; do
    slots=$({ clevis luks list -d "$device" 2>/dev/null || true; } | sed -n 's/^\([0-9]\{1,2\}\): .*/\1/p')
    for slot in $slots; do
      if timeout "${EP_CLEVIS_TIMEOUT_SECONDS:-60}" clevis luks pass -d "$device" -s "$slot" </dev/null |
        cryptsetup open --type luks2 --key-slot "$slot" --key-file=- -- "$device" "$name"; then
        return 0
      fi
      if cryptsetup status "$name" >/dev/null 2>&1; then return 0; fi
    done
    [ "$try" = 3 ] || sleep 2
  done
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
  if [ "$keyfile" = none ]; then
    if clevis_unlock "$device" "$name"; then
      ep_log "$name: opened through clevis"
    else
      ep_log "$name: clevis did not unlock $device (no Tang server answered, or another TPM); it stays locked (unlock with pulumi up, or with the escrowed passphrase)"
      status=1
    fi
  elif cryptsetup open --type luks2 --key-file "$keyfile" -- "$device" "$name"; then
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
  opts=$(printf '%s' "$options" | tr ',' '\n' | grep -v -e '^defaults$' -e '^nofail$' -e '^noauto$' -e '^_netdev$' -e '^x-' | paste -sd, -)
  if mount -t "$fstype" ${opts:+-o "$opts"} -- "$source" "$target"; then
    ep_log "$source: mounted on $target"
  else
    ep_log "$source: could not mount on $target"
    status=1
  fi
  ep_unlock_volume
done < <(grep -v '^[[:space:]]*#' "$fstab")

exit "$status"
