# shellcheck shell=bash
# delete of a SecretFile or VolumeFile: remove the file. When the volume is not mounted there is
# nothing to remove (and nothing may be written on the bare mount point), so that is not an error.

sf_main() {
  ep_require_root
  exec 0</dev/null
  if [ ! -d "$EP_BASE_DIR" ]; then
    ep_log "$EP_BASE_DIR is not there (the volume is not mounted); nothing to remove"
    return 0
  fi
  sf_require_encrypted_storage
  ep_lock_volume "$EP_MAPPER"
  local target directory
  target=$(sf_target)
  directory=$(dirname -- "$target")
  if [ ! -e "$directory" ] && [ ! -L "$directory" ]; then
    ep_log "$directory is not there; nothing to remove"
    return 0
  fi
  sf_prepare_directories "$directory"
  rm -f -- "$target"
  ep_log "removed $target"
}

sf_main "$@"
