# shellcheck shell=bash
# Irreversible: only with destroyDataOnDelete. Erases every key slot (luksErase), so no
# passphrase or header backup taken before can open the data again, then removes signatures.
# Only a device this stack created (its UUID and label) is erased: ep_destroy_check refuses
# anything else before a byte is changed.

ep_destroy() {
  local state
  state=$(ep_destroy_check)
  case "$state" in
    absent) ep_log "$EP_SOURCE is already gone" ;;
    ours)
      ep_log "DESTROYING the data of volume $EP_VOLUME on $EP_SOURCE (destroyDataOnDelete is set)"
      cryptsetup erase --batch-mode -- "$EP_SOURCE"
      wipefs --all --quiet -- "$EP_SOURCE"
      ;;
    blank) ep_log "$EP_SOURCE never held data" ;;
    *) ep_die "unexpected state '$state' of $EP_SOURCE" ;;
  esac
  if [ "$EP_BACKING" = "file" ] && [ "$state" != absent ]; then rm -f -- "$EP_SOURCE"; fi
  ep_did destroyed
}
