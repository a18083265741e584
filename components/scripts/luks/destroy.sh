# shellcheck shell=bash
# Irreversible: only with destroyDataOnDelete. Erases every key slot (luksErase), so no
# passphrase or header backup taken before can open the data again, then removes signatures.

ep_destroy() {
  ep_log "DESTROYING the data of volume $EP_VOLUME on $EP_SOURCE (destroyDataOnDelete is set)"
  if [ -e "$EP_SOURCE" ]; then
    if ep_is_luks; then cryptsetup erase --batch-mode "$EP_SOURCE"; fi
    wipefs --all --quiet "$EP_SOURCE" || true
    if [ "$EP_BACKING" = "file" ]; then rm -f "$EP_SOURCE"; fi
  fi
  ep_did destroyed
}
