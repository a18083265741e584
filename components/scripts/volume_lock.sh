# shellcheck shell=bash
# One lock per volume on the host, shared by the LUKS programs, the file programs (SecretFile,
# VolumeFile, VolumeDirectory) and the boot-time unlock helper: two `pulumi up`s, or an `up` and
# the helper at boot, never interleave their steps on the same volume. The lock directory is
# root-only (/run/lock itself is world-writable): one that is not root's, or is a symlink, is
# refused, never followed.

EP_LOCK_DIR=/run/lock/encrypted-platform
EP_LOCK_WAIT_SECONDS=600
EP_LOCK_FD=""

ep_lock_fail() { printf 'encrypted-platform[lock]: ERROR: %s\n' "$*" >&2; exit 1; }

# ep_lock_volume MAPPER: waits (up to EP_LOCK_WAIT_SECONDS) for the volume's lock and keeps it
# until ep_unlock_volume or the end of the program.
ep_lock_volume() {
  local mapper=$1 lock_fd
  case "$mapper" in "" | .* | */*) ep_lock_fail "not a volume mapping name: '$mapper'" ;; esac
  mkdir -p -- "$EP_LOCK_DIR"
  if [ -L "$EP_LOCK_DIR" ] || [ ! -d "$EP_LOCK_DIR" ] || [ "$(stat -c %u -- "$EP_LOCK_DIR")" != 0 ]; then
    ep_lock_fail "$EP_LOCK_DIR must be a directory owned by root, not a symlink"
  fi
  chmod 0700 -- "$EP_LOCK_DIR"
  exec {lock_fd}>>"$EP_LOCK_DIR/$mapper.lock"
  if ! flock -w "$EP_LOCK_WAIT_SECONDS" "$lock_fd"; then
    ep_lock_fail "volume $mapper is still locked by another encrypted-platform program after ${EP_LOCK_WAIT_SECONDS}s ($EP_LOCK_DIR/$mapper.lock)"
  fi
  EP_LOCK_FD=$lock_fd
}

ep_unlock_volume() {
  if [ -n "$EP_LOCK_FD" ]; then
    exec {EP_LOCK_FD}>&-
    EP_LOCK_FD=""
  fi
}
