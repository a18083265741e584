# shellcheck shell=bash
# LUKS header backups: one file per distinct header (after format, after each rotation or
# re-encryption), newest linked as "latest". The directory is root-only: a header backup plus
# a passphrase that was valid when it was taken unlocks the volume.

ep_header_backup() {
  local dir="$EP_HEADER_BACKUP_DIR/$EP_VOLUME" tmp stamp target n=0
  ep_root_directory "$EP_HEADER_BACKUP_DIR"
  ep_root_directory "$dir"
  tmp="$dir/.incoming.$$"
  rm -f -- "$tmp"
  cryptsetup luksHeaderBackup "$EP_SOURCE" --header-backup-file "$tmp"
  chmod 0400 -- "$tmp"
  if [ -e "$dir/latest" ] && cmp -s -- "$tmp" "$dir/latest"; then
    rm -f -- "$tmp"
    return 0
  fi
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  target="$dir/$EP_VOLUME-$stamp.luks-header"
  while [ -e "$target" ]; do
    n=$((n + 1))
    target="$dir/$EP_VOLUME-$stamp-$n.luks-header"
  done
  mv -- "$tmp" "$target"
  ln -sfn -- "$(basename -- "$target")" "$dir/latest"
  ep_log "header backup written to $target"
  ep_did header-backup
}
