# shellcheck shell=bash
# Helpers for the backup programs (components/at_rest/backup_scripts.py): the install and
# uninstall programs of the backup Command and the host tool encrypted-platform-backup. The
# renderer places this file after the parameter block (EP_BACKUP_* variables) and the common
# library.
#
# Secrets rule: the repository password stays in its root-only file on the secrets volume; restic
# reads it itself (--password-file PATH: a path, not key material). It is never in argv, the
# environment, or a log line.

set +o xtrace

# Messages (common.sh) name the stack's backups.
ep_log_tag() { printf 'encrypted-platform-backup[%s]' "${EP_BACKUP_STACK:-?}"; }

EP_BACKUP_LOCK_WAIT_SECONDS=3600

# The per-volume lists of the parameter block, in the same order (paths hold no whitespace: the
# settings' path grammar).
read -r -a EP_BACKUP_VOLUME_NAMES <<<"$EP_BACKUP_VOLUMES"
read -r -a EP_BACKUP_VOLUME_DATA_DIRS <<<"$EP_BACKUP_DATA_DIRS"
read -r -a EP_BACKUP_VOLUME_MOUNTS <<<"$EP_BACKUP_MOUNTS"
read -r -a EP_BACKUP_VOLUME_MAPPERS <<<"$EP_BACKUP_MAPPERS"
read -r -a EP_BACKUP_VOLUME_DOCKER_VOLUMES <<<"$EP_BACKUP_DOCKER_VOLUMES"

ep_backup_check_parameters() {
  local count=${#EP_BACKUP_VOLUME_NAMES[@]}
  if [ "${#EP_BACKUP_VOLUME_DATA_DIRS[@]}" != "$count" ] || [ "${#EP_BACKUP_VOLUME_MOUNTS[@]}" != "$count" ] ||
    [ "${#EP_BACKUP_VOLUME_MAPPERS[@]}" != "$count" ] || [ "${#EP_BACKUP_VOLUME_DOCKER_VOLUMES[@]}" != "$count" ]; then
    ep_die "the parameter block lists ${count} volumes but not as many data directories, mounts, mappings and Docker volumes"
  fi
  case "$EP_BACKUP_PASSWORD_FILE" in /*) ;; *) ep_die "the password file must be an absolute path: '$EP_BACKUP_PASSWORD_FILE'" ;; esac
}

# restic with this stack's repository and password file. The cache holds only repository files
# (ciphertext) and lives in a root-only directory.
ep_backup_restic() {
  restic --repo "$EP_BACKUP_REPOSITORY" --password-file "$EP_BACKUP_PASSWORD_FILE" \
    --cache-dir "$EP_BACKUP_CACHE_DIR" "$@"
}

# One backup, restore or drill at a time on this host (restic locks the repository too, but a
# restore must not swap a data directory while a backup pauses its containers). The lock is held
# until the program ends (the descriptor stays open).
ep_backup_lock() {
  local lock_fd
  ep_root_directory "$EP_BACKUP_LOCK_DIR"
  exec {lock_fd}>>"$EP_BACKUP_LOCK_DIR/backup.lock"
  if ! flock -n "$lock_fd"; then
    ep_log "waiting for another encrypted-platform-backup run ($EP_BACKUP_LOCK_DIR/backup.lock)"
    flock -w "$EP_BACKUP_LOCK_WAIT_SECONDS" "$lock_fd" ||
      ep_die "another encrypted-platform-backup run still holds $EP_BACKUP_LOCK_DIR/backup.lock after ${EP_BACKUP_LOCK_WAIT_SECONDS}s"
  fi
}

# The password file the SecretFile installed: a regular root-owned file nobody else may read.
ep_backup_require_password_file() {
  local file=$EP_BACKUP_PASSWORD_FILE facts
  if [ -L "$file" ]; then ep_die "refusing the repository password file $file: it is a symlink"; fi
  [ -f "$file" ] || ep_die "the repository password file $file does not exist (is the secrets volume unlocked and deployed?)"
  facts=$(stat -c '%u %a' -- "$file")
  if [ "${facts% *}" != 0 ] || [ $((8#${facts#* } & 8#077)) -ne 0 ]; then
    ep_die "refusing the repository password file $file: owned by uid ${facts% *} with mode ${facts#* } (must be root's, mode 0400)"
  fi
  [ -s "$file" ] || ep_die "the repository password file $file is empty"
}

# Prints "ready" when the repository opens with the password, "missing" when there is no
# repository there yet. A repository that exists but refuses the password is an error: it is
# never initialised again (that would fail, or worse, hide the backups behind a new key).
ep_backup_repository_state() {
  local errors
  if errors=$(ep_backup_restic cat config 2>&1 >/dev/null); then
    printf 'ready\n'
    return 0
  fi
  case "$errors" in
    *"wrong password"*)
      ep_die "the backup repository $EP_BACKUP_REPOSITORY refuses the password in $EP_BACKUP_PASSWORD_FILE (restic: wrong password or no key found); it is not initialised again: restore the password the repository was made with (the stack output backupRepositoryPassword)"
      ;;
    *"unable to open config file"* | *"does not exist"*) printf 'missing\n' ;;
    *) ep_die "cannot open the backup repository $EP_BACKUP_REPOSITORY: ${errors//$'\n'/ }" ;;
  esac
}

ep_backup_require_repository() {
  local state
  state=$(ep_backup_repository_state)
  [ "$state" = ready ] || ep_die "there is no backup repository at $EP_BACKUP_REPOSITORY yet (pulumi up initialises it)"
}

# The host path of a local repository (restic spells it "/path" or "local:/path"); nothing for
# a remote one.
ep_backup_local_path() {
  case "$EP_BACKUP_REPOSITORY" in
    local:/*) printf '%s' "${EP_BACKUP_REPOSITORY#local:}" ;;
    /*) printf '%s' "$EP_BACKUP_REPOSITORY" ;;
    *) return 1 ;;
  esac
}

# The repository of kind local must be another disk (the settings' otherDevice asserts it; this
# checks it): not the filesystem of "/" (a backup disk that failed to mount leaves its mount
# point there) nor one of the volumes it backs up.
ep_backup_check_other_device() {
  [ "$EP_BACKUP_OTHER_DEVICE" = yes ] || return 0
  local path existing device target index mount
  path=$(ep_backup_local_path) || return 0
  existing=$path
  while [ ! -e "$existing" ]; do existing=$(dirname -- "$existing"); done
  device=$(stat -L -c %d -- "$existing")
  target=$(findmnt -n -o TARGET -T "$existing" | head -n 1)
  if [ "$target" = / ] || [ "$device" = "$(stat -L -c %d -- /)" ]; then
    ep_die "refusing the backup repository $path: it is on the filesystem of / (mounted at $target), but backups.repository.otherDevice=true says it is another disk; mount that disk at $path (or choose a path on it)"
  fi
  for index in "${!EP_BACKUP_VOLUME_MOUNTS[@]}"; do
    mount=${EP_BACKUP_VOLUME_MOUNTS[$index]}
    if [ -e "$mount" ] && [ "$device" = "$(stat -L -c %d -- "$mount")" ]; then
      ep_die "refusing the backup repository $path: it is on the encrypted volume ${EP_BACKUP_VOLUME_NAMES[$index]} it backs up (mounted at $mount), but backups.repository.otherDevice=true says it is another disk"
    fi
  done
}

ep_backup_volume_index() {
  local name=$1 index
  for index in "${!EP_BACKUP_VOLUME_NAMES[@]}"; do
    if [ "${EP_BACKUP_VOLUME_NAMES[$index]}" = "$name" ]; then
      printf '%s' "$index"
      return 0
    fi
  done
  ep_die "unknown volume '$name' (backed up: ${EP_BACKUP_VOLUMES:-none})"
}

# The volume's data directory must be on its unlocked LUKS mapping: otherwise (volume locked,
# not mounted) it is an empty directory on the root disk, and its snapshot would be empty.
ep_backup_require_on_mapping() {
  local index=$1 node path want
  node="$EP_BACKUP_MAPPER_DIR/${EP_BACKUP_VOLUME_MAPPERS[$index]}"
  [ -b "$node" ] || ep_die "volume ${EP_BACKUP_VOLUME_NAMES[$index]}: $node does not exist (is the volume unlocked?)"
  want=$(stat -L -c '%Hr:%Lr' -- "$node")
  for path in "${EP_BACKUP_VOLUME_MOUNTS[$index]}" "${EP_BACKUP_VOLUME_DATA_DIRS[$index]}"; do
    if [ -L "$path" ] || [ ! -d "$path" ]; then ep_die "volume ${EP_BACKUP_VOLUME_NAMES[$index]}: $path is not a directory"; fi
    if [ "$(stat -c '%Hd:%Ld' -- "$path")" != "$want" ]; then
      ep_die "volume ${EP_BACKUP_VOLUME_NAMES[$index]}: $path is not on $node (is the volume mounted?)"
    fi
  done
}

# The running containers that use a Docker volume, one id per line.
ep_backup_containers_of() {
  docker ps -q --no-trunc --filter "volume=$1" --filter status=running
}

# The tags of a snapshot taken by this stack of one volume.
ep_backup_volume_tag() { printf 'volume=%s' "$1"; }
