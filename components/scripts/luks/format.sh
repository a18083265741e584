# shellcheck shell=bash
# luksFormat with the configured parameters. Only ever called on a device ep_preflight found
# blank, or "unkeyed" (our own format cut off before its first key slot). The header area (two metadata copies, then the key slots; the data starts right after
# it) has explicit sizes, the same numbers the preflight checks for zeros. The subsystem marker "pending mkfs" records that this run formatted the device, so a
# later run (after an interruption) knows that the inner filesystem may still be created.

ep_pbkdf_args() {
  EP_PBKDF_ARGS=(--pbkdf "$EP_PBKDF")
  if [ -n "$EP_PBKDF_MEMORY" ]; then EP_PBKDF_ARGS+=(--pbkdf-memory "$EP_PBKDF_MEMORY"); fi
  if [ -n "$EP_PBKDF_PARALLEL" ]; then EP_PBKDF_ARGS+=(--pbkdf-parallel "$EP_PBKDF_PARALLEL"); fi
  if [ -n "$EP_PBKDF_ITERATIONS" ]; then EP_PBKDF_ARGS+=(--pbkdf-force-iterations "$EP_PBKDF_ITERATIONS"); fi
  if [ -n "$EP_ITER_TIME_MS" ]; then EP_PBKDF_ARGS+=(--iter-time "$EP_ITER_TIME_MS"); fi
}

ep_format() {
  ep_pbkdf_args
  ep_log "formatting $EP_SOURCE as LUKS2 ($EP_CIPHER, $EP_KEY_SIZE-bit key, $EP_PBKDF)"
  ep_with_key "$EP_KEY" cryptsetup luksFormat --batch-mode --type luks2 \
    --cipher "$EP_CIPHER" --key-size "$EP_KEY_SIZE" --hash sha256 "${EP_PBKDF_ARGS[@]}" \
    --luks2-metadata-size "$EP_LUKS2_METADATA_SIZE" --luks2-keyslots-size "$EP_LUKS2_KEYSLOTS_SIZE" \
    --offset "$EP_DATA_OFFSET_SECTORS" \
    --uuid "$EP_UUID" --label "$EP_LABEL" --subsystem "$EP_SUBSYSTEM_PENDING" \
    --key-file=- -- "$EP_SOURCE"
  ep_did formatted
}

# What the preflight found decides: format a blank device, format again after our own format was
# cut off before its first key slot, leave our volume as it is.
ep_format_if_needed() {
  case "$1" in
    blank) ep_format ;;
    unkeyed)
      ep_log "$EP_SOURCE holds our header without a key slot (a format was cut off before its first key slot); formatting again"
      ep_format
      ;;
    ours) ;;
    *) ep_die "unexpected preflight result '$1' for $EP_SOURCE" ;;
  esac
}
