# shellcheck shell=bash
# create/update of an EncryptedVolume: converge the host to "formatted by us, current key only,
# open, filesystem, mounted, data directory, header backed up, unlock-at-boot as configured".
# Every step looks before it acts, so a re-run (or a run after an interruption) is safe.

ep_main() {
  ep_require_root
  ep_lock_volume "$EP_MAPPER"
  ep_require_tools cryptsetup blkid wipefs mount umount awk sed truncate flock blockdev cmp "mkfs.$EP_FILESYSTEM"
  ep_read_keys
  ep_prepare_backing
  local state
  state=$(ep_preflight)
  ep_format_if_needed "$state"
  ep_converge_keys
  ep_open
  ep_mkfs_if_pending
  ep_mount
  ep_prepare_data_dir
  # The binding changes the header, so it comes before the header backup.
  case "$EP_UNLOCK_AT_BOOT" in
    tang | tpm2) ep_clevis_converge ;;
    crypttab | manual) ep_clevis_remove ;;
    *) ep_die "unknown unlock-at-boot mode $EP_UNLOCK_AT_BOOT" ;;
  esac
  ep_header_backup
  case "$EP_UNLOCK_AT_BOOT" in
    crypttab) ep_boot_setup ;;
    manual) ep_boot_remove ;;
    tang | tpm2) ep_boot_setup_clevis ;;
  esac
  ep_report
}

ep_main "$@"
