# shellcheck shell=bash
# create/update of the backup Command: checks the repository (another disk, when it is a local
# path), initialises it only when there is none, then installs the host tool and its daily
# schedule. The repository is checked first, so a host never gets a schedule that can only fail.
# Every step looks before it acts: a re-run changes nothing.

ep_backup_unit() { printf '%s/%s.%s' "$EP_BACKUP_SYSTEMD_UNITS" "${EP_BACKUP_TOOL##*/}" "$1"; }
ep_backup_cron_file() { printf '%s/%s' "$EP_BACKUP_CRON_DIR" "${EP_BACKUP_TOOL##*/}"; }

ep_backup_check_schedule() {
  case "$EP_BACKUP_DAILY_HOUR:$EP_BACKUP_DAILY_MINUTE" in
    [01][0-9]:[0-5][0-9] | 2[0-3]:[0-5][0-9]) ;;
    *) ep_die "not a time of day (HH:MM): '$EP_BACKUP_DAILY_AT'" ;;
  esac
  case "$EP_BACKUP_TOOL" in
    /* ) ;;
    *) ep_die "the tool path must be absolute: '$EP_BACKUP_TOOL'" ;;
  esac
  case "$EP_BACKUP_TOOL" in
    *[!A-Za-z0-9/._-]*) ep_die "refusing to schedule '$EP_BACKUP_TOOL': a unit or cron line cannot hold it as one word" ;;
  esac
}

ep_backup_prepare_repository() {
  ep_backup_check_other_device
  ep_backup_require_password_file
  local state
  state=$(ep_backup_repository_state)
  if [ "$state" = missing ]; then
    ep_backup_restic init >/dev/null
    ep_log "initialised the backup repository $EP_BACKUP_REPOSITORY"
  else
    ep_log "the backup repository $EP_BACKUP_REPOSITORY opens with the password in $EP_BACKUP_PASSWORD_FILE"
  fi
}

ep_backup_install_tool() {
  mkdir -p -- "${EP_BACKUP_TOOL%/*}"
  if [ -n "$(ep_backup_tool_text | ep_install_file "$EP_BACKUP_TOOL" 0755)" ]; then
    ep_log "installed $EP_BACKUP_TOOL"
  fi
}

ep_backup_schedule_systemd() {
  local changed=""
  mkdir -p -- "$EP_BACKUP_SYSTEMD_UNITS"
  changed+=$(printf '%s\n' \
    '[Unit]' \
    "Description=encrypted-platform: encrypted backups of the stack's volumes (restic)" \
    'After=docker.service' \
    'Requires=docker.service' \
    '' \
    '[Service]' \
    'Type=oneshot' \
    "ExecStart=$EP_BACKUP_TOOL backup" \
    'Nice=10' \
    'IOSchedulingClass=idle' |
    ep_install_file "$(ep_backup_unit service)" 0644)
  changed+=$(printf '%s\n' \
    '[Unit]' \
    'Description=encrypted-platform: daily encrypted backups' \
    '' \
    '[Timer]' \
    "OnCalendar=*-*-* $EP_BACKUP_DAILY_HOUR:$EP_BACKUP_DAILY_MINUTE:00" \
    'Persistent=true' \
    '' \
    '[Install]' \
    'WantedBy=timers.target' |
    ep_install_file "$(ep_backup_unit timer)" 0644)
  if [ -n "$changed" ]; then
    systemctl daemon-reload
    ep_log "scheduled daily at $EP_BACKUP_DAILY_AT: $(ep_backup_unit timer)"
  fi
  systemctl enable --now "${EP_BACKUP_TOOL##*/}.timer" >/dev/null 2>&1 ||
    ep_die "systemctl could not enable ${EP_BACKUP_TOOL##*/}.timer"
}

ep_backup_schedule_cron() {
  local changed
  changed=$(printf '%s\n' \
    '# encrypted-platform: daily encrypted backups of the stack'"'"'s volumes (restic)' \
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$EP_BACKUP_DAILY_MINUTE $EP_BACKUP_DAILY_HOUR * * * root $EP_BACKUP_TOOL backup" |
    ep_install_file "$(ep_backup_cron_file)" 0644)
  if [ -n "$changed" ]; then ep_log "scheduled daily at $EP_BACKUP_DAILY_AT: $(ep_backup_cron_file)"; fi
}

ep_backup_schedule() {
  if [ -d "$EP_BACKUP_SYSTEMD_RUNTIME" ]; then
    ep_backup_schedule_systemd
  elif [ -d "$EP_BACKUP_CRON_DIR" ]; then
    ep_backup_schedule_cron
  else
    ep_log "NOTE: neither systemd nor $EP_BACKUP_CRON_DIR on this host: schedule '$EP_BACKUP_TOOL backup' daily at $EP_BACKUP_DAILY_AT yourself"
  fi
}

ep_main() {
  ep_require_root
  ep_require_tools restic flock findmnt stat cmp mktemp
  ep_backup_check_parameters
  ep_backup_check_schedule
  ep_backup_lock
  ep_backup_prepare_repository
  ep_backup_install_tool
  ep_backup_schedule
  printf '{"stack":"%s","tool":"%s","volumes":"%s"}\n' "$EP_BACKUP_STACK" "$EP_BACKUP_TOOL" "$EP_BACKUP_VOLUMES"
}

ep_main "$@"
