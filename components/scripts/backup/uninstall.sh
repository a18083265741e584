# shellcheck shell=bash
# delete of the backup Command: the schedule and the host tool go. The repository, its snapshots
# and the password file stay: backups outlive the stack that made them (a restore after a lost
# host starts from them).

ep_backup_remove() {
  local path=$1
  if [ -e "$path" ] || [ -L "$path" ]; then
    rm -f -- "$path"
    ep_log "removed $path"
  fi
}

ep_main() {
  ep_require_root
  local name=${EP_BACKUP_TOOL##*/}
  if [ -d "$EP_BACKUP_SYSTEMD_RUNTIME" ] && [ -e "$EP_BACKUP_SYSTEMD_UNITS/$name.timer" ]; then
    systemctl disable --now "$name.timer" >/dev/null 2>&1 || ep_log "systemctl could not disable $name.timer"
  fi
  ep_backup_remove "$EP_BACKUP_SYSTEMD_UNITS/$name.timer"
  ep_backup_remove "$EP_BACKUP_SYSTEMD_UNITS/$name.service"
  if [ -d "$EP_BACKUP_SYSTEMD_RUNTIME" ]; then systemctl daemon-reload; fi
  ep_backup_remove "$EP_BACKUP_CRON_DIR/$name"
  ep_backup_remove "$EP_BACKUP_TOOL"
  ep_log "the repository $EP_BACKUP_REPOSITORY and its snapshots are kept"
}

ep_main "$@"
