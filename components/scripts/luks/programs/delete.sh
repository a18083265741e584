# shellcheck shell=bash
# delete of an EncryptedVolume: unmount and close. The data stays on the device (and the key is
# kept aside, so it stays recoverable) unless destroyDataOnDelete was set when this command was
# last applied: then the key slots, the data and the keyfile go, and only after the device was
# found to be ours (its UUID and label), before anything changed.

ep_main() {
  ep_require_root
  exec 0</dev/null
  ep_lock_volume "$EP_MAPPER"
  if [ "$EP_DESTROY_DATA" = "yes" ]; then
    ep_destroy_check >/dev/null
  fi
  ep_unmount
  ep_close
  if [ "$EP_DESTROY_DATA" = "yes" ]; then
    ep_boot_remove
    ep_destroy
  else
    ep_boot_forget
    ep_log "closed; the encrypted data stays on $EP_SOURCE"
  fi
  ep_report
}

ep_main "$@"
