# shellcheck shell=bash
# create/update of a SecretFile or VolumeFile: write stdin to <base dir>/<relative path> on the
# encrypted volume, owner and mode as configured, atomically (a reader sees the old or the new
# file, never half of one).

# Global, so the EXIT trap (single-quoted: expanded when it fires, never re-parsed) sees it.
SF_TEMPORARY=""

sf_install() {
  local target directory
  target=$(sf_target)
  directory=$(dirname -- "$target")
  sf_prepare_directories "$directory"
  if [ -L "$target" ] || { [ -e "$target" ] && [ ! -f "$target" ]; }; then
    ep_die "refusing to replace $target: it is not a regular file"
  fi
  trap 'rm -f -- "$SF_TEMPORARY"' EXIT
  SF_TEMPORARY=$(mktemp -- "$directory/.secret-file.XXXXXX")
  cat >"$SF_TEMPORARY"
  exec 0</dev/null
  [ -s "$SF_TEMPORARY" ] || ep_die "no content on stdin (the content must be passed on standard input)"
  chown -- "$EP_OWNER" "$SF_TEMPORARY"
  chmod -- "$EP_MODE" "$SF_TEMPORARY"
  # Look before acting: the same content, owner and mode already in place means nothing to do.
  if [ -f "$target" ] && cmp -s -- "$SF_TEMPORARY" "$target" &&
    [ "$(stat -c '%u:%g %a' -- "$target")" = "$(stat -c '%u:%g %a' -- "$SF_TEMPORARY")" ]; then
    rm -f -- "$SF_TEMPORARY"
    trap - EXIT
    printf '{"file":"%s","changed":false}\n' "$target"
    return 0
  fi
  mv -f -- "$SF_TEMPORARY" "$target"
  trap - EXIT
  sync -- "$target" 2>/dev/null || sync
  ep_log "wrote $target (owner $EP_OWNER, mode $EP_MODE)"
  printf '{"file":"%s","changed":true}\n' "$target"
}

sf_main() {
  ep_require_root
  sf_require_encrypted_storage
  ep_lock_volume "$EP_MAPPER"
  sf_install
}

sf_main "$@"
