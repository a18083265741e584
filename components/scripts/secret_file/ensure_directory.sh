# shellcheck shell=bash
# create/update of a VolumeDirectory: the directory <base dir>/<relative path> exists on the
# encrypted volume with the configured owner and mode (a container binds it, or writes into it).

sf_main() {
  ep_require_root
  exec 0</dev/null
  sf_require_encrypted_storage
  ep_lock_volume "$EP_MAPPER"
  local target
  target=$(sf_target)
  sf_prepare_directories "$target"
  ep_log "directory $target ready (owner $EP_DIR_OWNER, mode $EP_DIR_MODE)"
}

sf_main "$@"
