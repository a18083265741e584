#!/usr/bin/env bash
# shellcheck shell=bash
# Read-only facts about the encrypted-platform volumes and containers of this host, printed as
# one JSON document on stdout (scripts/audit reads it and judges it; this program judges nothing).
#
# What to look at arrives on stdin as tab-separated records, never as program text:
#   dirs    KEYS_DIR  HEADER_BACKUP_DIR
#   volume  NAME  SOURCE  MAPPER  MOUNT_POINT  DOCKER_VOLUME
# Every field is checked against a plain grammar before use and only ever passed as one quoted
# argument. Nothing here writes, opens, mounts or unlocks anything, and no key is read: a keyfile
# is only stat'ed, header backups are only dumped (luksDump reads the public header metadata).
set -euo pipefail
umask 077
export LC_ALL=C
set +o xtrace

ep_log() { printf 'encrypted-platform[audit-facts]: %s\n' "$*" >&2; }
ep_die() {
  ep_log "ERROR: $*"
  exit 2
}

# A JSON string of $1: backslash, quote and the control characters escaped or dropped.
ep_json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  s=$(printf '%s' "$s" | tr -d '\000-\037')
  printf '"%s"' "$s"
}

# The output of a command as a JSON string, or null when it fails.
ep_json_output() {
  local out
  if out=$("$@" 2>/dev/null); then ep_json_string "$out"; else printf 'null'; fi
}

# The output of a command that prints JSON itself, or null when it fails or prints nothing.
ep_json_raw() {
  local out
  if out=$("$@" 2>/dev/null) && [ -n "$out" ]; then printf '%s' "$out"; else printf 'null'; fi
}

# `docker ps`-style commands print one JSON document per line: a JSON array of them.
ep_json_lines() {
  local out line first=yes
  out=$("$@" 2>/dev/null) || { printf 'null'; return 0; }
  printf '['
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    if [ "$first" = yes ]; then first=no; else printf ','; fi
    printf '%s' "$line"
  done <<<"$out"
  printf ']'
}

ep_check_field() {
  local what=$1 value=$2 pattern=$3
  [[ "$value" =~ $pattern ]] || ep_die "$what: not a plain value: $(ep_json_string "$value")"
}

PATH_RE='^/[A-Za-z0-9._/@+-]*$'
NAME_RE='^[A-Za-z0-9][A-Za-z0-9._-]*$'
KEYS_DIR=""
HEADER_BACKUP_DIR=""
VOLUMES=()
while IFS=$'\t' read -r kind a b c d e rest; do
  [ -z "${rest:-}" ] || ep_die "a record has too many fields"
  case "$kind" in
    dirs)
      ep_check_field "keys directory" "$a" "$PATH_RE"
      ep_check_field "header backup directory" "$b" "$PATH_RE"
      KEYS_DIR=$a
      HEADER_BACKUP_DIR=$b
      ;;
    volume)
      ep_check_field "volume name" "$a" "$NAME_RE"
      ep_check_field "volume $a source" "$b" "$PATH_RE"
      ep_check_field "volume $a mapper" "$c" "$NAME_RE"
      ep_check_field "volume $a mount point" "$d" "$PATH_RE"
      ep_check_field "volume $a Docker volume" "$e" "$NAME_RE"
      VOLUMES+=("$a"$'\t'"$b"$'\t'"$c"$'\t'"$d"$'\t'"$e")
      ;;
    "") ;;
    *) ep_die "unknown record $(ep_json_string "$kind")" ;;
  esac
done
[ -n "$KEYS_DIR" ] || ep_die "no dirs record on stdin"

# "mode owner size mtime" of a path (never its content), or null when there is nothing there.
ep_stat() {
  if [ -e "$1" ] || [ -L "$1" ]; then
    ep_json_output stat -c '%a %U %s %Y %F' -- "$1"
  else
    printf 'null'
  fi
}

# The device types under a block device (crypt among them when it sits on dm-crypt).
ep_device_types() { ep_json_output lsblk -n -s -o TYPE -- "$1"; }

ep_volume_facts() {
  local name=$1 source=$2 mapper=$3 mount=$4 docker_volume=$5 backup_dir backup keyfile
  backup_dir="$HEADER_BACKUP_DIR/$name"
  keyfile="$KEYS_DIR/$name.key"
  printf '{"name":%s' "$(ep_json_string "$name")"
  printf ',"source":%s' "$(ep_json_string "$source")"
  printf ',"sourceStat":%s' "$(ep_stat "$source")"
  printf ',"sourceRealpath":%s' "$(ep_json_output readlink -f -- "$source")"
  printf ',"isLuks":%s' "$(if cryptsetup isLuks -- "$source" >/dev/null 2>&1; then printf true; else printf false; fi)"
  printf ',"luksMetadata":%s' "$(ep_json_raw cryptsetup luksDump --dump-json-metadata -- "$source")"
  printf ',"luksDump":%s' "$(ep_json_output cryptsetup luksDump -- "$source")"
  printf ',"mapperStatus":%s' "$(ep_json_output cryptsetup status -- "$mapper")"
  printf ',"mount":%s' "$(ep_json_raw findmnt -J --mountpoint "$mount" -o SOURCE,TARGET,FSTYPE,OPTIONS)"
  printf ',"dockerVolume":%s' "$(ep_json_raw docker volume inspect -- "$docker_volume")"
  backup="$backup_dir/latest"
  printf ',"headerBackup":{"latest":%s' "$(ep_json_output readlink -e -- "$backup")"
  printf ',"stat":%s' "$(if [ -e "$backup" ]; then ep_json_output stat -L -c '%a %U %s %Y %F' -- "$backup"; else printf 'null'; fi)"
  printf ',"luksMetadata":%s}' "$(if [ -e "$backup" ]; then ep_json_raw cryptsetup luksDump --dump-json-metadata -- "$backup"; else printf 'null'; fi)"
  printf ',"keyfile":{"path":%s,"stat":%s}' "$(ep_json_string "$keyfile")" "$(ep_stat "$keyfile")"
  # shellcheck disable=SC2016 # an awk program, with the mapper name from the environment
  printf ',"crypttab":%s' "$(if [ -r /etc/crypttab ]; then EP_MAPPER=$mapper ep_json_output awk '$1 == ENVIRON["EP_MAPPER"]' /etc/crypttab; else printf 'null'; fi)"
  printf '}'
}

ep_swap_facts() {
  local filename type rest first=yes
  printf '['
  if [ -r /proc/swaps ]; then
    while read -r filename type rest; do
      : "$rest"
      [ "$filename" = Filename ] && continue
      if [ "$first" = yes ]; then first=no; else printf ','; fi
      printf '{"path":%s,"type":%s,"deviceTypes":%s}' "$(ep_json_string "$filename")" \
        "$(ep_json_string "$type")" "$(if [ -b "$filename" ]; then ep_device_types "$filename"; else printf 'null'; fi)"
    done </proc/swaps
  fi
  printf ']'
}

ep_docker_root_facts() {
  local root source
  if ! root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null) || [ -z "$root" ]; then
    printf 'null'
    return 0
  fi
  source=$(findmnt -n -o SOURCE -T "$root" 2>/dev/null || true)
  source=${source%%\[*}
  printf '{"path":%s,"source":%s,"deviceTypes":%s}' "$(ep_json_string "$root")" "$(ep_json_string "$source")" \
    "$(if [ -b "$source" ]; then ep_device_types "$source"; else printf 'null'; fi)"
}

# The ids of `docker <kind> ls -q [options]`, inspected, as one JSON array ([] when there are
# none, null when Docker does not answer).
ep_docker_inspect() {
  local kind=$1 ids
  shift
  if ! ids=$(docker "$kind" ls -q "$@" 2>/dev/null); then
    printf 'null'
    return 0
  fi
  if [ -z "$ids" ]; then
    printf '[]'
    return 0
  fi
  local -a list
  mapfile -t list <<<"$ids"
  ep_json_raw docker "$kind" inspect -- "${list[@]}"
}

# One TCP connect from inside a container's network namespace (the host's own tools: nsenter
# enters the network namespace only, never the container's filesystem): open, refused (a reset:
# something answered, or the host firewall rejected it), timeout, unreachable (no route).
ep_probe() {
  local pid=$1 address=$2 port=$3 out
  # shellcheck disable=SC2016 # bash's /dev/tcp with the address and port as arguments
  if out=$(nsenter --target "$pid" --net -- timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$address" "$port" 2>&1); then
    printf 'open'
    return 0
  fi
  case "$out" in
    *refused*) printf 'refused' ;;
    *unreachable* | *"No route"*) printf 'unreachable' ;;
    "") printf 'timeout' ;;
    *) printf 'error' ;;
  esac
}

# Per running container: TCP probes from inside it to the host's sshd and Docker API ports (on each
# of its networks' gateways, which are the host, and on the host's own address) and to the outside
# (the host's default gateway). Probes of all containers run side by side.
PROBE_HOST_PORTS=(22 2375 2376)
ep_container_probes() {
  local id=$1 pid name gateways gateway host_address outside first=yes port
  pid=$(docker inspect -f '{{.State.Pid}}' -- "$id" 2>/dev/null) || return 0
  name=$(docker inspect -f '{{.Name}}' -- "$id" 2>/dev/null) || return 0
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 0
  gateways=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.Gateway}} {{end}}' -- "$id" 2>/dev/null) || gateways=""
  host_address=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n 1) || host_address=""
  outside=$(ip -4 route show default 2>/dev/null | sed -n 's/^default via \([0-9.]*\).*/\1/p' | head -n 1) || outside=""
  printf '{"container":%s,"probes":[' "$(ep_json_string "${name#/}")"
  for gateway in $gateways $host_address; do
    [[ "$gateway" =~ ^[0-9.]+$ ]] || continue
    for port in "${PROBE_HOST_PORTS[@]}"; do
      if [ "$first" = yes ]; then first=no; else printf ','; fi
      printf '{"target":"host","address":"%s","port":%s,"result":"%s"}' "$gateway" "$port" "$(ep_probe "$pid" "$gateway" "$port")"
    done
  done
  if [[ "$outside" =~ ^[0-9.]+$ ]]; then
    if [ "$first" = yes ]; then first=no; else printf ','; fi
    printf '{"target":"outside","address":"%s","port":53,"result":"%s"}' "$outside" "$(ep_probe "$pid" "$outside" 53)"
  fi
  printf ']}'
}

ep_reachability() {
  local ids id fd out first=yes
  local -a fds=()
  if ! command -v nsenter >/dev/null 2>&1 || ! ids=$(docker ps -q 2>/dev/null); then
    printf 'null'
    return 0
  fi
  # Each container's probes in a process of its own, read back in order from its pipe (the
  # output is a few hundred bytes, well inside a pipe's buffer): no file is written.
  for id in $ids; do
    [[ "$id" =~ ^[0-9a-f]+$ ]] || continue
    exec {fd}< <(ep_container_probes "$id")
    fds+=("$fd")
  done
  printf '['
  for fd in "${fds[@]}"; do
    out=""
    IFS= read -r -d '' out <&"$fd" || true
    exec {fd}<&-
    [ -n "$out" ] || continue
    if [ "$first" = yes ]; then first=no; else printf ','; fi
    printf '%s' "$out"
  done
  printf ']'
}

printf '{"schema":1,"host":%s' "$(ep_json_output uname -n)"
printf ',"collectedAt":%s' "$(ep_json_output date -u +%Y-%m-%dT%H:%M:%SZ)"
printf ',"now":%s' "$(ep_json_output date -u +%s)"
printf ',"cryptsetupVersion":%s' "$(ep_json_output cryptsetup --version)"
printf ',"volumes":['
first=yes
for record in "${VOLUMES[@]}"; do
  IFS=$'\t' read -r name source mapper mount docker_volume <<<"$record"
  if [ "$first" = yes ]; then first=no; else printf ','; fi
  ep_volume_facts "$name" "$source" "$mapper" "$mount" "$docker_volume"
done
printf ']'
printf ',"keysDir":{"path":%s,"entries":%s}' "$(ep_json_string "$KEYS_DIR")" \
  "$(if [ -d "$KEYS_DIR" ]; then ep_json_output find "$KEYS_DIR" -maxdepth 1 -type f -name '*.key' -printf '%f\n'; else printf 'null'; fi)"
printf ',"swaps":%s' "$(ep_swap_facts)"
printf ',"tmpfs":%s' "$(ep_json_raw findmnt -J -t tmpfs -o TARGET,OPTIONS)"
printf ',"dockerRoot":%s' "$(ep_docker_root_facts)"
printf ',"containers":%s' "$(ep_docker_inspect container --all)"
printf ',"networks":%s' "$(ep_docker_inspect network)"
printf ',"dockerVolumes":%s' "$(ep_docker_inspect volume)"
printf ',"reachability":%s' "$(ep_reachability)"
printf '}\n'
