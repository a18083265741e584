# shellcheck shell=bash
# encrypted-platform-backup: encrypted, deduplicated backups (restic) of the stack's encrypted
# volumes and of its LUKS header backups, into one repository off the host. Installed by the
# backup Command (install.sh) and run daily by its systemd timer or cron entry; operators run it
# through make (backup-now, restore, backup-drill, backup-snapshots).
#
#   encrypted-platform-backup backup                   every volume, the headers, then retention
#   encrypted-platform-backup restore VOLUME SNAPSHOT  SNAPSHOT: an id or "latest"
#   encrypted-platform-backup drill [VOLUME...]        restore into a scratch LUKS2 volume and check
#   encrypted-platform-backup snapshots [VOLUME]
#   encrypted-platform-backup password-check

# Programs live in the sbin directories too when cron starts us with its short PATH.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

ep_usage() {
  printf 'usage: %s backup | restore VOLUME SNAPSHOT | drill [VOLUME...] | snapshots [VOLUME] | password-check\n' "${0##*/}" >&2
  exit 2
}

# Containers paused or stopped by this run: the exit trap resumes them, whatever happened.
EP_BACKUP_PAUSED=()
EP_BACKUP_STOPPED=()
ep_backup_resume_containers() {
  if [ "${#EP_BACKUP_PAUSED[@]}" -gt 0 ]; then
    if docker unpause "${EP_BACKUP_PAUSED[@]}" >/dev/null; then
      ep_log "unpaused ${#EP_BACKUP_PAUSED[@]} container(s)"
    else
      ep_log "ERROR: could not unpause ${EP_BACKUP_PAUSED[*]}: run docker unpause on them"
    fi
    EP_BACKUP_PAUSED=()
  fi
  if [ "${#EP_BACKUP_STOPPED[@]}" -gt 0 ]; then
    if docker start "${EP_BACKUP_STOPPED[@]}" >/dev/null; then
      ep_log "started ${#EP_BACKUP_STOPPED[@]} container(s) again"
    else
      ep_log "ERROR: could not start ${EP_BACKUP_STOPPED[*]} again: run docker start on them"
    fi
    EP_BACKUP_STOPPED=()
  fi
}

EP_BACKUP_DRILL_CLEANUP=()
ep_backup_on_exit() {
  local status=$?
  ep_backup_resume_containers
  ep_backup_drill_cleanup
  exit "$status"
}
trap 'ep_backup_on_exit' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# A stopped-writes window: the volume's running containers are paused (frozen, not stopped)
# while restic reads the data directory, so the files are one point in time, as a filesystem
# snapshot would be; PostgreSQL and Qdrant recover from such a copy as from a power cut.
ep_backup_pause_containers() {
  local docker_volume=$1 ids
  ids=$(ep_backup_containers_of "$docker_volume")
  [ -n "$ids" ] || return 0
  mapfile -t EP_BACKUP_PAUSED <<<"$ids"
  docker pause "${EP_BACKUP_PAUSED[@]}" >/dev/null
  ep_log "paused ${#EP_BACKUP_PAUSED[@]} container(s) using $docker_volume"
}

ep_backup_one() {
  local label=$1 tag=$2 path=$3 summary
  summary=$(ep_backup_restic backup --json --quiet --tag "$tag" --host "$EP_BACKUP_STACK" -- "$path") || return 1
  summary=$(printf '%s\n' "$summary" | grep '"message_type":"summary"' | tail -n 1)
  ep_log "$label: snapshot $(ep_backup_json_field snapshot_id "$summary") of $path ($(ep_backup_json_field total_files_processed "$summary") files, $(ep_backup_json_field total_bytes_processed "$summary") bytes read, $(ep_backup_json_field data_added "$summary") bytes added)"
}

# One scalar field of a flat JSON object restic printed (numbers and hex ids only).
ep_backup_json_field() {
  printf '%s' "$2" | sed -n "s/.*\"$1\":\"\{0,1\}\([0-9a-f.]*\)\"\{0,1\}[,}].*/\1/p"
}

ep_backup_retention() {
  local flags=()
  if [ "$EP_BACKUP_KEEP_DAILY" -gt 0 ]; then flags+=(--keep-daily "$EP_BACKUP_KEEP_DAILY"); fi
  if [ "$EP_BACKUP_KEEP_WEEKLY" -gt 0 ]; then flags+=(--keep-weekly "$EP_BACKUP_KEEP_WEEKLY"); fi
  if [ "$EP_BACKUP_KEEP_MONTHLY" -gt 0 ]; then flags+=(--keep-monthly "$EP_BACKUP_KEEP_MONTHLY"); fi
  [ "${#flags[@]}" -gt 0 ] || ep_die "no retention: keep-daily, keep-weekly and keep-monthly are all 0"
  ep_log "retention: forget ${flags[*]} --group-by host,tags --prune"
  ep_backup_restic forget --quiet --host "$EP_BACKUP_STACK" --group-by host,tags "${flags[@]}" --prune >/dev/null
}

ep_backup_command_backup() {
  [ "$#" -eq 0 ] || ep_usage
  ep_require_tools restic docker flock findmnt
  ep_backup_lock
  ep_backup_check_other_device
  ep_backup_require_password_file
  ep_backup_require_repository
  local index name failed=()
  for index in "${!EP_BACKUP_VOLUME_NAMES[@]}"; do
    name=${EP_BACKUP_VOLUME_NAMES[$index]}
    if ! (ep_backup_require_on_mapping "$index"); then
      failed+=("$name")
      continue
    fi
    ep_backup_pause_containers "${EP_BACKUP_VOLUME_DOCKER_VOLUMES[$index]}"
    if ! ep_backup_one "$name" "$(ep_backup_volume_tag "$name")" "${EP_BACKUP_VOLUME_DATA_DIRS[$index]}"; then
      ep_log "ERROR: $name: restic backup failed"
      failed+=("$name")
    fi
    ep_backup_resume_containers
  done
  if [ -d "$EP_BACKUP_HEADER_DIR" ]; then
    if ! ep_backup_one "LUKS headers" "$EP_BACKUP_HEADER_TAG" "$EP_BACKUP_HEADER_DIR"; then
      ep_log "ERROR: the LUKS header backups ($EP_BACKUP_HEADER_DIR): restic backup failed"
      failed+=("$EP_BACKUP_HEADER_TAG")
    fi
  else
    ep_log "no LUKS header backups in $EP_BACKUP_HEADER_DIR yet"
  fi
  # Retention only after a complete run: a failing backup never thins out the good ones.
  [ "${#failed[@]}" -eq 0 ] || ep_die "backup failed for: ${failed[*]} (retention skipped)"
  ep_backup_retention
  ep_log "backup complete"
}

# The full id of a snapshot of the volume taken by this stack: "latest" or an id (prefix) whose
# snapshot carries the volume's tag. Anything else is refused.
ep_backup_resolve_snapshot() {
  local name=$1 wanted=$2 listing ids id found=()
  listing=$(ep_backup_restic snapshots --json --tag "$(ep_backup_volume_tag "$name")" --host "$EP_BACKUP_STACK")
  ids=$(printf '%s' "$listing" | grep -o '"id":"[0-9a-f]\{64\}"' | cut -d '"' -f 4 || true)
  [ -n "$ids" ] || ep_die "volume $name has no snapshot in $EP_BACKUP_REPOSITORY (host $EP_BACKUP_STACK)"
  if [ "$wanted" = latest ]; then
    printf '%s\n' "$ids" | tail -n 1
    return 0
  fi
  case "$wanted" in
    "" | *[!0-9a-f]*) ep_die "not a snapshot id: '$wanted' (an id from 'snapshots $name', or latest)" ;;
  esac
  while read -r id; do
    case "$id" in "$wanted"*) found+=("$id") ;; esac
  done <<<"$ids"
  case "${#found[@]}" in
    1) printf '%s\n' "${found[0]}" ;;
    0) ep_die "snapshot $wanted is not a snapshot of volume $name (tag $(ep_backup_volume_tag "$name"), host $EP_BACKUP_STACK)" ;;
    *) ep_die "snapshot id $wanted is ambiguous: give more of it" ;;
  esac
}

ep_backup_timestamp() { date -u +%Y%m%dT%H%M%SZ; }

# Restores into a new directory beside the data directory, verifies it, then swaps it in. The
# current data directory is kept (renamed), never deleted.
ep_backup_command_restore() {
  [ "$#" -eq 2 ] || ep_usage
  ep_require_tools restic docker flock find
  ep_backup_lock
  ep_backup_require_password_file
  ep_backup_require_repository
  local name=$1 index snapshot stamp staging restored data_dir mount kept ids
  index=$(ep_backup_volume_index "$name")
  ep_backup_require_on_mapping "$index"
  snapshot=$(ep_backup_resolve_snapshot "$name" "$2")
  data_dir=${EP_BACKUP_VOLUME_DATA_DIRS[$index]}
  mount=${EP_BACKUP_VOLUME_MOUNTS[$index]}
  stamp=$(ep_backup_timestamp)
  staging="$mount/restore.$stamp"
  kept="$mount/data.before-restore.$stamp"
  mkdir -m 0700 -- "$staging"
  ep_log "$name: restoring snapshot ${snapshot:0:8} into $staging"
  ep_backup_restic restore "$snapshot" --target "$staging" --verify >/dev/null
  restored="$staging$data_dir"
  if [ -L "$restored" ] || [ ! -d "$restored" ]; then ep_die "$name: the snapshot holds no directory $data_dir"; fi
  ids=$(ep_backup_containers_of "${EP_BACKUP_VOLUME_DOCKER_VOLUMES[$index]}")
  if [ -n "$ids" ]; then
    mapfile -t EP_BACKUP_STOPPED <<<"$ids"
    docker stop "${EP_BACKUP_STOPPED[@]}" >/dev/null
    ep_log "$name: stopped ${#EP_BACKUP_STOPPED[@]} container(s)"
  fi
  if [ -e "$data_dir" ]; then mv -T -- "$data_dir" "$kept"; fi
  mv -T -- "$restored" "$data_dir"
  # What is left of the staging directory are the empty parents of the restored path.
  find "$staging" -depth -type d -empty -delete
  ep_backup_resume_containers
  ep_log "$name: restored snapshot ${snapshot:0:8} into $data_dir; the previous data is kept in $kept"
}

# The drill: restore the latest snapshot of each volume into a scratch LUKS2 volume (a random
# key that exists only in this shell), check it, and remove it again.
ep_backup_drill_cleanup() {
  local index step
  for ((index = ${#EP_BACKUP_DRILL_CLEANUP[@]} - 1; index >= 0; index--)); do
    step=${EP_BACKUP_DRILL_CLEANUP[$index]}
    case "$step" in
      container:*) docker rm -f "${step#container:}" >/dev/null 2>&1 || true ;;
      mount:*) umount -- "${step#mount:}" || ep_log "ERROR: could not unmount ${step#mount:}" ;;
      mapping:*) cryptsetup close "${step#mapping:}" || ep_log "ERROR: could not close ${step#mapping:}" ;;
      file:*) rm -f -- "${step#file:}" ;;
      directory:*) rmdir -- "${step#directory:}" 2>/dev/null || true ;;
    esac
  done
  EP_BACKUP_DRILL_CLEANUP=()
}

EP_BACKUP_DRILL_FAILED=()
ep_backup_drill_fail() {
  ep_log "DRILL FAILED: $*"
  EP_BACKUP_DRILL_FAILED+=("$1")
}

ep_backup_drill_postgres() {
  local name=$1 index=$2 restored=$3 source container image user env_lines destination mounts
  local pgdata="" pguser=postgres line ready=""
  source=$(ep_backup_containers_of "${EP_BACKUP_VOLUME_DOCKER_VOLUMES[$index]}" | head -n 1)
  [ -n "$source" ] || source=$(docker ps -a -q --no-trunc --filter "volume=${EP_BACKUP_VOLUME_DOCKER_VOLUMES[$index]}" | head -n 1)
  [ -n "$source" ] || {
    ep_backup_drill_fail "$name" "the restored copy is a PostgreSQL data directory but no container uses the volume: no image to check it with"
    return 0
  }
  image=$(docker inspect -f '{{.Config.Image}}' "$source")
  user=$(docker inspect -f '{{.Config.User}}' "$source")
  env_lines=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$source")
  mounts=$(docker inspect -f '{{range .Mounts}}{{.Name}} {{.Destination}}{{println}}{{end}}' "$source")
  destination=$(printf '%s\n' "$mounts" | EP_VOLUME=${EP_BACKUP_VOLUME_DOCKER_VOLUMES[$index]} awk '$1 == ENVIRON["EP_VOLUME"] { print $2; exit }')
  [ -n "$destination" ] || destination=/var/lib/postgresql/data
  while IFS= read -r line; do
    case "$line" in
      PGDATA=*) pgdata=${line#PGDATA=} ;;
      POSTGRES_USER=*) pguser=${line#POSTGRES_USER=} ;;
    esac
  done <<<"$env_lines"
  container="ep-drill-$name"
  EP_BACKUP_DRILL_CLEANUP+=("container:$container")
  docker run -d --rm --name "$container" --network none ${user:+--user "$user"} \
    --tmpfs /var/run/postgresql --tmpfs /tmp ${pgdata:+--env "PGDATA=$pgdata"} \
    --volume "$restored:$destination" "$image" >/dev/null
  for _ in $(seq 1 60); do
    if docker exec "$container" pg_isready -q -U "$pguser" -d postgres; then
      ready=yes
      break
    fi
    sleep 1
  done
  if [ -z "$ready" ]; then
    ep_backup_drill_fail "$name" "PostgreSQL ($image) did not accept connections on the restored copy within 60s"
  elif [ "$(docker exec "$container" psql -U "$pguser" -d postgres -Atc 'SELECT 1')" != 1 ]; then
    ep_backup_drill_fail "$name" "PostgreSQL ($image) on the restored copy did not answer SELECT 1"
  else
    ep_log "$name: PostgreSQL ($image) opened the restored copy and answered SELECT 1"
  fi
  docker rm -f "$container" >/dev/null 2>&1 || true
}

ep_backup_drill_volume() {
  local name=$1 index snapshot size image mapping mountpoint key restored expected actual
  index=$(ep_backup_volume_index "$name")
  snapshot=$(ep_backup_resolve_snapshot "$name" latest)
  size=$(ep_backup_json_field total_size "$(ep_backup_restic stats --json --mode restore-size "$snapshot")")
  [ -n "$size" ] || ep_die "$name: restic stats gave no restore size"
  # Room for the files plus the LUKS2 header (16 MiB) and ext4's own metadata.
  size=$((size + size / 4 + 64 * 1024 * 1024))
  image="$EP_BACKUP_DRILL_DIR/$name.img"
  mapping="ep-drill-$name"
  mountpoint="$EP_BACKUP_DRILL_DIR/$name.mnt"
  if [ -e "$image" ] || cryptsetup status "$mapping" >/dev/null 2>&1; then
    ep_die "$name: $image or the mapping $mapping exists (an interrupted drill?): close and remove them first"
  fi
  ep_log "$name: drill of snapshot ${snapshot:0:8} in a scratch LUKS2 volume ($size bytes, sparse)"
  EP_BACKUP_DRILL_CLEANUP+=("file:$image")
  truncate -s "$size" -- "$image"
  # A random key for a volume that lives for one drill: kept in this shell only, on cryptsetup's
  # stdin. PBKDF2 at its minimum cost, since the key is random, not a passphrase.
  key=$(head -c 48 /dev/urandom | base64 -w 0)
  printf '%s' "$key" | cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 \
    --pbkdf-force-iterations 1000 --key-file=- -- "$image" ||
    ep_die "$name: could not create the scratch LUKS2 volume $image (cryptsetup luksFormat)"
  printf '%s' "$key" | cryptsetup open --type luks2 --key-file=- -- "$image" "$mapping" ||
    ep_die "$name: could not open the scratch LUKS2 volume $image as $mapping"
  key=""
  EP_BACKUP_DRILL_CLEANUP+=("mapping:$mapping")
  mkfs.ext4 -q -- "/dev/mapper/$mapping" || ep_die "$name: could not make a filesystem on the scratch volume"
  mkdir -p -- "$mountpoint"
  chmod 0700 -- "$mountpoint"
  EP_BACKUP_DRILL_CLEANUP+=("directory:$mountpoint")
  mount -o nodev,nosuid -- "/dev/mapper/$mapping" "$mountpoint" || ep_die "$name: could not mount the scratch volume on $mountpoint"
  EP_BACKUP_DRILL_CLEANUP+=("mount:$mountpoint")
  if ! ep_backup_restic restore "$snapshot" --target "$mountpoint" --verify >/dev/null; then
    ep_backup_drill_fail "$name" "restic restore --verify of snapshot ${snapshot:0:8} failed"
  else
    restored="$mountpoint${EP_BACKUP_VOLUME_DATA_DIRS[$index]}"
    # restic ls lists the snapshot's paths (the parents of the data directory too); the paths go
    # to awk through the environment, since awk -v would interpret backslashes in them.
    expected=$(ep_backup_restic ls "$snapshot" | EP_PREFIX=${EP_BACKUP_VOLUME_DATA_DIRS[$index]} awk '
      BEGIN { d = ENVIRON["EP_PREFIX"] }
      index($0, d) == 1 && (length($0) == length(d) || substr($0, length(d) + 1, 1) == "/")' | LC_ALL=C sort)
    actual=$(find "$restored" | EP_PREFIX=$mountpoint awk 'BEGIN { m = ENVIRON["EP_PREFIX"] } { print substr($0, length(m) + 1) }' | LC_ALL=C sort)
    if [ -z "$expected" ] || [ "$expected" != "$actual" ]; then
      ep_backup_drill_fail "$name" "the restored tree differs from the snapshot's file list"
    else
      ep_log "$name: restored $(printf '%s\n' "$actual" | wc -l) entries, verified against the repository"
      if [ -n "$(find "$restored" -maxdepth 2 -name PG_VERSION -type f)" ]; then
        ep_backup_drill_postgres "$name" "$index" "$restored"
      fi
    fi
  fi
  ep_backup_drill_cleanup
}

ep_backup_command_drill() {
  ep_require_tools restic docker flock cryptsetup mkfs.ext4 mount umount truncate base64 find
  ep_backup_lock
  ep_backup_require_password_file
  ep_backup_require_repository
  local names=("$@") name
  [ "${#names[@]}" -gt 0 ] || names=("${EP_BACKUP_VOLUME_NAMES[@]}")
  for name in "${names[@]}"; do ep_backup_volume_index "$name" >/dev/null; done
  ep_root_directory "$EP_BACKUP_DRILL_DIR"
  if ! ep_backup_restic check >/dev/null; then ep_backup_drill_fail repository "restic check found errors in $EP_BACKUP_REPOSITORY"; fi
  for name in "${names[@]}"; do ep_backup_drill_volume "$name"; done
  [ "${#EP_BACKUP_DRILL_FAILED[@]}" -eq 0 ] || ep_die "drill failed for: ${EP_BACKUP_DRILL_FAILED[*]}"
  ep_log "drill passed: ${names[*]}"
}

ep_backup_command_snapshots() {
  [ "$#" -le 1 ] || ep_usage
  ep_require_tools restic
  ep_backup_require_password_file
  ep_backup_require_repository
  local filter=()
  if [ "$#" -eq 1 ]; then
    ep_backup_volume_index "$1" >/dev/null
    filter=(--tag "$(ep_backup_volume_tag "$1")")
  fi
  ep_backup_restic snapshots --host "$EP_BACKUP_STACK" "${filter[@]}"
}

ep_backup_command_password_check() {
  [ "$#" -eq 0 ] || ep_usage
  ep_require_tools restic
  ep_backup_require_password_file
  ep_backup_require_repository
  ep_log "the repository $EP_BACKUP_REPOSITORY opens with the password in $EP_BACKUP_PASSWORD_FILE"
}

ep_main() {
  [ "$#" -ge 1 ] || ep_usage
  ep_require_root
  ep_backup_check_parameters
  local command=$1
  shift
  case "$command" in
    backup) ep_backup_command_backup "$@" ;;
    restore) ep_backup_command_restore "$@" ;;
    drill) ep_backup_command_drill "$@" ;;
    snapshots) ep_backup_command_snapshots "$@" ;;
    password-check) ep_backup_command_password_check "$@" ;;
    *) ep_usage ;;
  esac
}

ep_main "$@"
