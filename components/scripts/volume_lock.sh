# shellcheck shell=bash
# One lock per volume on the host, shared by the LUKS programs, the file programs (SecretFile,
# VolumeFile, VolumeDirectory) and the boot-time unlock helper: two `pulumi up`s, or an `up` and
# the helper at boot, never interleave their steps on the same volume. The locks live in a
# root-only directory below /run (not /run/lock: anyone may create entries there); one that is
# not root's, or is a symlink, is refused, never followed.

EP_LOCK_PARENT=/run/encrypted-platform
EP_LOCK_DIR=$EP_LOCK_PARENT/locks
EP_LOCK_WAIT_SECONDS=600
EP_LOCK_FD=""

ep_lock_fail() { printf 'encrypted-platform[lock]: ERROR: %s\n' "$*" >&2; exit 1; }

# ep_lock_volume MAPPER: waits (up to EP_LOCK_WAIT_SECONDS) for the volume's lock and keeps it
# until ep_unlock_volume or the end of the program.
ep_lock_volume() {
  local mapper=$1 lock_fd
  case "$mapper" in "" | .* | */*) ep_lock_fail "not a volume mapping name: '$mapper'" ;; esac
  local directory
  for directory in "$EP_LOCK_PARENT" "$EP_LOCK_DIR"; do
    # Programs of independent volumes start at the same time: whichever creates the directory,
    # the others find it (mkdir never follows or replaces what is there; the checks below judge it).
    mkdir -m 0700 -- "$directory" 2>/dev/null || true
    if [ -L "$directory" ] || [ ! -d "$directory" ] || [ "$(stat -c %u -- "$directory")" != 0 ]; then
      ep_lock_fail "$directory must be a directory owned by root, not a symlink"
    fi
    chmod 0700 -- "$directory"
  done
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
