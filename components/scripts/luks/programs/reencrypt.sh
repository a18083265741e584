# shellcheck shell=bash
# Opt-in re-encryption of the volume key (encryption.reencryptGeneration / volumes.*.reencryptGeneration).

ep_main() {
  ep_require_root
  ep_lock_volume "$EP_MAPPER"
  ep_read_keys
  [ "$(ep_preflight)" = "ours" ] || ep_die "$EP_SOURCE is not an encrypted-platform volume"
  ep_open
  ep_reencrypt
  ep_header_backup
  ep_report
}

ep_main "$@"
