# shellcheck shell=bash
# Opening and closing the dm-crypt mapping. A regular image file gets a loop device from
# cryptsetup itself (autoclear), so closing the mapping also frees the loop device.

ep_mapping_backing_ok() {
  # The active mapping must sit on our device (or our image file through a loop device).
  local status
  status=$(cryptsetup status "$EP_MAPPER" 2>/dev/null) || return 1
  if [ "$EP_BACKING" = "file" ]; then
    printf '%s\n' "$status" | EP_WANT="$EP_SOURCE" awk '
      { sub(/^[[:space:]]+/, "") }
      index($0, "loop:") == 1 { line = substr($0, 6); sub(/^[[:space:]]+/, "", line); if (line == ENVIRON["EP_WANT"]) found = 1 }
      END { exit !found }'
  else
    local dev
    dev=$(printf '%s\n' "$status" | sed -n 's/^[[:space:]]*device:[[:space:]]*//p')
    [ "$(readlink -f "$dev")" = "$(readlink -f "$EP_SOURCE")" ]
  fi
}

ep_open() {
  if ep_mapping_active; then
    ep_mapping_backing_ok || ep_die "a mapping named $EP_MAPPER is open but does not sit on $EP_SOURCE"
    return 0
  fi
  ep_log "opening $EP_SOURCE as $(ep_mapper_path)"
  ep_with_key "$EP_KEY" cryptsetup open --type luks2 --key-file=- -- "$EP_SOURCE" "$EP_MAPPER"
  ep_did opened
}

ep_close() {
  if ep_mapping_active; then
    cryptsetup close "$EP_MAPPER"
    ep_log "closed $(ep_mapper_path)"
    ep_did closed
  fi
}
