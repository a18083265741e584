# shellcheck shell=bash
# Opt-in re-encryption of the volume key (encryption.reencryptGeneration / volumes.*.reencryptGeneration).

ep_main() {
  ep_require_root
  ep_lock_volume "$EP_MAPPER"
  ep_read_keys
  [ "$(ep_preflight)" = "ours" ] || ep_die "$EP_SOURCE is not an encrypted-platform volume"
  ep_open
  # cryptsetup re-encrypts with one passphrase only when one key slot is active, and it keeps
  # only that slot: the clevis binding goes first and is made again for the new volume key.
  ep_clevis_remove
  ep_reencrypt
  case "$EP_UNLOCK_AT_BOOT" in tang | tpm2) ep_clevis_converge ;; esac
  ep_header_backup
  ep_report
}

ep_main "$@"
