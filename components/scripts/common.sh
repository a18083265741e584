# shellcheck shell=bash
# What every host program shares: messages on stderr tagged with who is speaking (ep_log_tag,
# defined by each program's own library), dying with one, and the checks a root program makes
# before it acts, and how /proc/self/mountinfo spells a path.

ep_log() { printf '%s: %s\n' "$(ep_log_tag)" "$*" >&2; }
ep_die() {
  ep_log "ERROR: $*"
  exit 1
}

ep_require_root() {
  [ "$(id -u)" -eq 0 ] || ep_die "must run as root (set host.become=true to use sudo)"
}

ep_require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || ep_die "required tool '$tool' is not installed on the host"
  done
}

# A path as /proc/self/mountinfo spells it (space, tab, newline and backslash as octal escapes),
# so paths compare exactly whatever characters they hold.
ep_mountinfo_escape() {
  local path=$1
  path=${path//\\/\\134}
  path=${path// /\\040}
  path=${path//$'\t'/\\011}
  path=${path//$'\n'/\\012}
  printf '%s' "$path"
}
