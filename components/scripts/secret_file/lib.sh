# shellcheck shell=bash
# Helpers for the programs of components/at_rest/secret_file.py (secrets, and other files and directories
# placed on an EncryptedVolume). The renderer places this file after the parameter block (EP_*
# variables) and before one program body.
#
# Secrets rule: content arrives on stdin only and goes straight into an owner-only temporary file
# next to its target; it is never in argv, the environment, or a log line.
#
# Symlink rule: root never follows a path a container could have written. Everything these
# programs touch lives below EP_BASE_DIR, a root-owned directory beside the volume's data
# directory that no container binds; every directory between it and a target is root-owned too,
# so only the last directory (bound into one container) may belong to a container's user. Each
# component is still checked before use (a directory, not a symlink), so a tree planted by an
# older layout or by hand is refused rather than followed.

set +o xtrace

# Messages (common.sh) name the file.
ep_log_tag() { printf 'encrypted-platform[secret-file %s]' "$EP_NAME"; }

# "source mountpoint" of the filesystem that holds path $1 (longest mount-point prefix in
# /proc/mounts; the last entry wins for stacked mounts). The path goes in through the
# environment: awk -v would interpret backslashes in it. Works with busybox awk.
sf_filesystem_of() {
  SF_PATH="$1" awk '
    function unescape(s) { gsub(/\\040/, " ", s); gsub(/\\011/, "\t", s); gsub(/\\012/, "\n", s); gsub(/\\134/, "\\", s); return s }
    BEGIN { best = -1; path = ENVIRON["SF_PATH"] }
    {
      mountpoint = unescape($2)
      prefix = (mountpoint == "/") ? "/" : mountpoint "/"
      if ((path == mountpoint || index(path, prefix) == 1) && length(mountpoint) >= best) {
        best = length(mountpoint); source = unescape($1); at = mountpoint
      }
    }
    END { if (best >= 0) printf "%s\n%s\n", source, at }' /proc/mounts
}

# The volume's mount point must be the unlocked LUKS mapping of this volume. Otherwise (volume
# not unlocked, or something else mounted there) a secret would land on unencrypted storage.
sf_require_encrypted_storage() {
  local physical found source at expected
  expected="/dev/mapper/$EP_MAPPER"
  [ -d "$EP_MOUNT" ] || ep_die "$EP_MOUNT does not exist: the encrypted volume is not mounted (run its LUKS step first)"
  physical=$(cd -- "$EP_MOUNT" && pwd -P)
  found=$(sf_filesystem_of "$physical")
  source=${found%%$'\n'*}
  at=${found#*$'\n'}
  if [ "$physical" != "$EP_MOUNT" ] || [ "$source" != "$expected" ] || [ "$at" != "$EP_MOUNT" ]; then
    ep_die "refusing to write: $physical is on '$source' mounted at '$at', not on $expected mounted at $EP_MOUNT (is the volume unlocked?)"
  fi
}

sf_target() { printf '%s/%s' "$EP_BASE_DIR" "$EP_RELATIVE_PATH"; }

# Refuses unless $1 is a real directory (not a symlink) with owner $2 and no write bit for
# group or others, or is missing (it is then created with that owner and mode $3).
sf_root_directory() {
  local path=$1 owner=$2 mode=$3
  if [ -L "$path" ]; then ep_die "refusing to follow the symlink $path (it points to $(readlink -- "$path"))"; fi
  if [ ! -e "$path" ]; then
    mkdir -- "$path"
    chown -h "$owner" "$path"
    chmod "$mode" "$path"
  fi
  [ -d "$path" ] || ep_die "refusing to use $path: it is not a directory"
}

# Walks from the mount point down to directory $1 (below EP_BASE_DIR), one component at a time:
# every component must be a real directory, never a symlink. Intermediate directories are
# root-owned (mode 0755); the last one gets EP_DIR_OWNER and EP_DIR_MODE. A container can write
# only inside the last one, and root never writes there for a container (see the symlink rule).
sf_prepare_directories() {
  local target=$1 relative current part
  case "$target" in
    "$EP_BASE_DIR"/*) relative=${target#"$EP_BASE_DIR"/} ;;
    *) ep_die "refusing to write outside $EP_BASE_DIR: $target" ;;
  esac
  sf_root_directory "$EP_BASE_DIR" 0:0 0755
  sf_require_owner "$EP_BASE_DIR" 0:0
  current=$EP_BASE_DIR
  while [ -n "$relative" ]; do
    part=${relative%%/*}
    if [ "$part" = "$relative" ]; then relative=""; else relative=${relative#*/}; fi
    case "$part" in "" | . | ..) ep_die "refusing a path with an empty, '.' or '..' component: $target" ;; esac
    current="$current/$part"
    if [ -n "$relative" ]; then
      sf_root_directory "$current" 0:0 0755
      sf_require_owner "$current" 0:0
    else
      sf_root_directory "$current" "$EP_DIR_OWNER" "$EP_DIR_MODE"
      chown -h "$EP_DIR_OWNER" "$current"
      chmod "$EP_DIR_MODE" "$current"
    fi
  done
  # The same answer from the kernel: the resolved path is the path we walked.
  [ "$(realpath -e -- "$target")" = "$target" ] || ep_die "refusing to use $target: it resolves to $(realpath -e -- "$target")"
}

# An intermediate directory must stay root-owned and not writable by group or others; one that is
# not (an older layout, or changed by hand) is refused, not repaired, so nothing below it is used
# while someone else could have swapped it.
sf_require_owner() {
  local path=$1 owner=$2 facts
  facts=$(stat -c '%u:%g %a' -- "$path")
  if [ "${facts% *}" != "$owner" ] || [ $((8#${facts#* } & 8#022)) -ne 0 ]; then
    ep_die "refusing to use $path: owned by ${facts% *} with mode ${facts#* } (must be $owner, not writable by group or others)"
  fi
}
