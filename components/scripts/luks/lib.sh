# shellcheck shell=bash
# Shared helpers for the LUKS programs. The renderer (components/luks_scripts.py) places this
# file after the parameter block (EP_* variables) and before the step libraries.
#
# Secrets rule: keys live only in shell variables (never exported, never in argv) and reach
# cryptsetup through a pipe from the printf builtin or a /dev/fd path from process substitution.

# Refuse to run with xtrace on: a trace would print the keys.
set +o xtrace

ep_log() { printf 'encrypted-platform[%s]: %s\n' "${EP_VOLUME:-?}" "$*" >&2; }
ep_die() { ep_log "ERROR: $*"; exit 1; }

ep_require_root() {
  [ "$(id -u)" -eq 0 ] || ep_die "must run as root (set host.become=true to use sudo)"
}

ep_require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || ep_die "required tool '$tool' is not installed on the host"
  done
}

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

# Prints the mount point where the mapping is mounted, or nothing.
ep_mounted_at() {
  local want id parent devnum root mnt rest
  want=$(ep_devnum "$(ep_mapper_path)") || return 0
  [ -n "$want" ] || return 0
  while read -r id parent devnum root mnt rest; do
    : "$id" "$parent" "$root" "$rest"
    if [ "$devnum" = "$want" ]; then printf '%s\n' "$mnt"; fi
  done </proc/self/mountinfo
}

ep_path_is_mountpoint() {
  local id parent devnum root mnt rest
  while read -r id parent devnum root mnt rest; do
    : "$id" "$parent" "$devnum" "$root" "$rest"
    if [ "$mnt" = "$1" ]; then return 0; fi
  done </proc/self/mountinfo
  return 1
}

# Writes stdin to a file atomically with the given mode, only when the content differs.
# Prints "changed" when it wrote.
ep_install_file() {
  local path=$1 mode=$2 tmp
  tmp=$(mktemp "${path}.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 0
  fi
  mv -f "$tmp" "$path"
  printf 'changed\n'
}

# Rewrites a table file (crypttab, fstab) keeping every line whose field number $2 is not $3,
# then appends line $4 (if not empty). Other entries are preserved byte for byte.
ep_table_set() {
  local file=$1 field=$2 match=$3 line=$4 tmp
  touch "$file"
  tmp=$(mktemp "${file}.XXXXXX")
  awk -v f="$field" -v m="$match" '$0 ~ /^[[:space:]]*#/ || $f != m' "$file" >"$tmp"
  if [ -n "$line" ]; then printf '%s\n' "$line" >>"$tmp"; fi
  chmod --reference="$file" "$tmp" 2>/dev/null || chmod 0644 "$tmp"
  if cmp -s "$tmp" "$file"; then rm -f "$tmp"; return 0; fi
  mv -f "$tmp" "$file"
  ep_log "updated $file ($match)"
}

# One machine-readable line on stdout for the Pulumi Command's output (never any secret).
ep_report() {
  printf '{"volume":"%s","mapping":"%s","mountPoint":"%s","actions":"%s"}\n' \
    "$EP_VOLUME" "$EP_MAPPER" "$EP_MOUNT" "${EP_ACTIONS:-none}"
}

EP_ACTIONS=""
ep_did() { EP_ACTIONS="${EP_ACTIONS:+$EP_ACTIONS,}$1"; }
