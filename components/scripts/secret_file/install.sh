# shellcheck shell=bash
# create/update of a SecretFile or VolumeFile: write stdin to <data dir>/<relative path> on the
# encrypted volume, owner and mode as configured, atomically (a reader sees the old or the new
# file, never half of one).

sf_install() {
  local target directory temporary
  target=$(sf_target)
  directory=$(dirname "$target")
  if [ ! -d "$directory" ]; then
    mkdir -p "$directory"
  fi
  # Directories below the data directory belong to the file's owner (mode EP_DIR_MODE).
  sf_own_directories "$directory"
  temporary=$(mktemp "$directory/.secret-file.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the trap must remove this very file
  trap "rm -f '$temporary'" EXIT
  cat >"$temporary"
  exec 0</dev/null
  [ -s "$temporary" ] || sf_die "no content on stdin (the content must be passed on standard input)"
  chown "$EP_OWNER" "$temporary"
  chmod "$EP_MODE" "$temporary"
  # Look before acting: the same content, owner and mode already in place means nothing to do.
  if [ -f "$target" ] && cmp -s "$temporary" "$target" &&
    [ "$(stat -c '%u:%g %a' "$target")" = "$(stat -c '%u:%g %a' "$temporary")" ]; then
    rm -f "$temporary"
    trap - EXIT
    printf '{"file":"%s","changed":false}\n' "$target"
    return 0
  fi
  mv -f "$temporary" "$target"
  trap - EXIT
  sync "$target" 2>/dev/null || sync
  sf_log "wrote $target (owner $EP_OWNER, mode $EP_MODE)"
  printf '{"file":"%s","changed":true}\n' "$target"
}

sf_main() {
  sf_require_root
  sf_require_encrypted_storage
  sf_install
}

sf_main "$@"
