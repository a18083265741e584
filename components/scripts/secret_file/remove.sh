# shellcheck shell=bash
# delete of a SecretFile or VolumeFile: remove the file. When the volume is not mounted there is nothing to
# remove (and nothing may be written on the bare mount point), so that is not an error.

sf_main() {
  sf_require_root
  exec 0</dev/null
  if [ ! -d "$EP_DATA_DIR" ]; then
    sf_log "$EP_DATA_DIR is not mounted; nothing to remove"
    return 0
  fi
  sf_require_encrypted_storage
  local target
  target=$(sf_target)
  rm -f "$target"
  sf_log "removed $target"
}

sf_main "$@"
