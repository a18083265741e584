# shellcheck shell=bash
# Shared helpers for the LUKS programs. The renderer (components/at_rest/luks_scripts.py) places this
# file after the parameter block (EP_* variables) and before the step libraries.
#
# Secrets rule: keys live only in shell variables (never exported, never in argv) and reach
# cryptsetup through a pipe from the printf builtin or a /dev/fd path from process substitution.

# Refuse to run with xtrace on: a trace would print the keys.
set +o xtrace

# Messages (common.sh) name the volume.
ep_log_tag() { printf 'encrypted-platform[%s]' "${EP_VOLUME:-?}"; }

# Reads the current key (line 1) and the previous key (optional line 2) from stdin, then
# detaches stdin so no child process can read what is left.
EP_KEY=""
EP_PREV_KEY=""
ep_read_keys() {
  IFS= read -r EP_KEY || true
  IFS= read -r EP_PREV_KEY || true
  exec 0</dev/null
  [ -n "$EP_KEY" ] || ep_die "no key on stdin (the passphrase must be passed on standard input)"
  if [ "$EP_KEY" = "$EP_PREV_KEY" ]; then EP_PREV_KEY=""; fi
}

# Feeds a key to a command on its stdin: ep_with_key "$key" cryptsetup ... --key-file=- ...
ep_with_key() {
  local key=$1
  shift
  printf '%s' "$key" | "$@"
}

# The block device or image file that holds the LUKS header.
ep_source() { printf '%s' "$EP_SOURCE"; }

ep_is_luks() { cryptsetup isLuks "$EP_SOURCE" >/dev/null 2>&1; }

ep_luks_field() {
  # Prints one "Name: value" field of luksDump (e.g. Label, Subsystem, UUID, Version).
  cryptsetup luksDump "$EP_SOURCE" 2>/dev/null | sed -n "s/^$1:[[:space:]]*//p" | head -n 1
}

ep_mapper_path() { printf '/dev/mapper/%s' "$EP_MAPPER"; }

ep_mapping_active() { cryptsetup status "$EP_MAPPER" >/dev/null 2>&1; }

# major:minor of a block device node (works with busybox and coreutils alike).
ep_devnum() {
  local real
  real=$(readlink -f "$1")
  cat "/sys/class/block/$(basename "$real")/dev" 2>/dev/null
}

# Prints the mount points (mountinfo spelling, one per line) where the mapping's whole filesystem
# is mounted (mount root "/"). With "all", also the mounts of directories inside it: the binds
# Docker makes of the volume's data directory for each container using it (mount root "/data").
ep_mounted_at() {
  local which=${1:-whole} want id parent devnum root mnt rest
  want=$(ep_devnum "$(ep_mapper_path)") || return 0
  [ -n "$want" ] || return 0
  while read -r id parent devnum root mnt rest; do
    : "$id" "$parent" "$rest"
    if [ "$devnum" = "$want" ] && { [ "$which" = all ] || [ "$root" = / ]; }; then printf '%s\n' "$mnt"; fi
  done </proc/self/mountinfo
}

ep_path_is_mountpoint() {
  local id parent devnum root mnt rest want
  want=$(ep_mountinfo_escape "$1")
  while read -r id parent devnum root mnt rest; do
    : "$id" "$parent" "$devnum" "$root" "$rest"
    if [ "$mnt" = "$want" ]; then return 0; fi
  done </proc/self/mountinfo
  return 1
}

# Rewrites a table file (crypttab, fstab) keeping every line whose field number $2 is not $3,
# then appends line $4 (if not empty; made by ep_table_line). Other entries are preserved byte
# for byte. The match is compared as a plain string (through the environment: awk -v would
# interpret backslashes); one holding whitespace matches no field, so nothing is removed.
#
# The programs of different volumes run at the same time, each under its own volume lock, and each
# rewrites a whole table: one host-wide lock around the rewrite keeps one from overwriting
# the entry of another (that volume would no longer unlock at boot).
ep_table_set() {
  local file=$1 field=$2 match=$3 line=$4 tmp tables_fd
  case "$line" in
    *$'\n'* | *$'\r'*) ep_die "refusing to write $file: the line holds a line break" ;;
  esac
  # The volume lock made (and checked) the lock directory; a step run on its own makes it here.
  mkdir -m 0700 -- "$EP_LOCK_PARENT" "$EP_LOCK_DIR" 2>/dev/null || true
  if [ -L "$EP_LOCK_DIR" ] || [ ! -d "$EP_LOCK_DIR" ]; then ep_die "$EP_LOCK_DIR must be a directory"; fi
  exec {tables_fd}>>"$EP_LOCK_DIR/host-tables.lock"
  flock -w "$EP_LOCK_WAIT_SECONDS" "$tables_fd" ||
    ep_die "the host tables are still locked by another encrypted-platform program after ${EP_LOCK_WAIT_SECONDS}s"
  touch -- "$file"
  tmp=$(mktemp -- "${file}.XXXXXX")
  EP_TABLE_MATCH=$match awk -v f="$field" '$0 ~ /^[[:space:]]*#/ || $f != ENVIRON["EP_TABLE_MATCH"]' "$file" >"$tmp"
  if [ -n "$line" ]; then printf '%s\n' "$line" >>"$tmp"; fi
  chmod --reference="$file" -- "$tmp" 2>/dev/null || chmod 0644 -- "$tmp"
  if cmp -s -- "$tmp" "$file"; then
    rm -f -- "$tmp"
  else
    mv -f -- "$tmp" "$file"
    ep_log "updated $file ($match)"
  fi
  exec {tables_fd}>&-
}

# One table line from its fields. Fields are separated by whitespace there, `#` starts a comment
# and a backslash starts an escape: a value holding any of them would inject fields (a root
# that comments out nodev,nosuid and adds suid), so it is refused, never written.
ep_table_line() {
  local field line=""
  for field in "$@"; do
    case "$field" in
      "" | *[[:space:]\#\\]*) ep_die "refusing to write '$field' into a table: empty, or holds whitespace, '#' or a backslash" ;;
    esac
    line="${line:+$line }$field"
  done
  printf '%s' "$line"
}

# One machine-readable line on stdout for the Pulumi Command's output (never any secret).
ep_report() {
  printf '{"volume":"%s","mapping":"%s","mountPoint":"%s","actions":"%s"}\n' \
    "$EP_VOLUME" "$EP_MAPPER" "$EP_MOUNT" "${EP_ACTIONS:-none}"
}

EP_ACTIONS=""
ep_did() { EP_ACTIONS="${EP_ACTIONS:+$EP_ACTIONS,}$1"; }
