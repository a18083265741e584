# shellcheck shell=bash
# Helpers for the programs of components/secret_file.py (secrets, and other files and directories
# placed on an EncryptedVolume). The renderer places this file after the parameter block (EP_*
# variables) and before one program body.
#
# Secrets rule: content arrives on stdin only and goes straight into an owner-only temporary file
# next to its target; it is never in argv, the environment, or a log line.

set +o xtrace

sf_log() { printf 'encrypted-platform[secret-file %s]: %s\n' "$EP_NAME" "$*" >&2; }
sf_die() { sf_log "ERROR: $*"; exit 1; }

sf_require_root() {
  [ "$(id -u)" -eq 0 ] || sf_die "must run as root (set host.become=true to use sudo)"
}

# "source mountpoint" of the filesystem that holds path $1 (longest mount-point prefix in
# /proc/mounts; the last entry wins for stacked mounts). Works with busybox awk.
sf_filesystem_of() {
  awk -v path="$1" '
    BEGIN { best = -1 }
    {
      mountpoint = $2
      gsub(/\\040/, " ", mountpoint)
      prefix = (mountpoint == "/") ? "/" : mountpoint "/"
      if ((path == mountpoint || index(path, prefix) == 1) && length(mountpoint) >= best) {
        best = length(mountpoint); source = $1; at = mountpoint
      }
    }
    END { if (best >= 0) print source " " at }' /proc/mounts
}

# The data directory must sit on the unlocked LUKS mapping of its volume. Otherwise (volume not
# unlocked, or something else mounted there) the secret would land on unencrypted storage: refuse.
sf_require_encrypted_storage() {
  local physical found source at expected
  expected="/dev/mapper/$EP_MAPPER"
  [ -d "$EP_DATA_DIR" ] || sf_die "$EP_DATA_DIR does not exist: the encrypted volume is not mounted (run its LUKS step first)"
  physical=$(cd "$EP_DATA_DIR" && pwd -P)
  found=$(sf_filesystem_of "$physical")
  source=${found%% *}
  at=${found#* }
  if [ "$source" != "$expected" ] || [ "$at" != "$EP_MOUNT" ]; then
    sf_die "refusing to write: $physical is on '$source' mounted at '$at', not on $expected mounted at $EP_MOUNT (is the volume unlocked?)"
  fi
}

sf_target() { printf '%s/%s' "$EP_DATA_DIR" "$EP_RELATIVE_PATH"; }

# Owner and mode for every directory from $1 up to (not including) the data directory.
sf_own_directories() {
  local current=$1
  while [ "$current" != "$EP_DATA_DIR" ] && [ "$current" != "/" ]; do
    chown "$EP_OWNER" "$current"
    chmod "$EP_DIR_MODE" "$current"
    current=$(dirname "$current")
  done
}
