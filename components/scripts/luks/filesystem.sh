# shellcheck shell=bash
# The filesystem inside the mapping, its mount point and the data directory Docker binds.

ep_set_marker() {
  # cryptsetup config rewrites label and subsystem together: always pass both.
  cryptsetup config --label "$EP_LABEL" --subsystem "$1" -- "$EP_SOURCE"
}

# mkfs runs only on a device this stack formatted and never finished (subsystem marker), and
# only when no filesystem is there yet. It never runs on an existing filesystem.
ep_mkfs_if_pending() {
  local subsystem fs
  subsystem=$(ep_luks_field Subsystem)
  fs=$(blkid -p -o value -s TYPE "$(ep_mapper_path)" 2>/dev/null || true)
  if [ "$subsystem" = "$EP_SUBSYSTEM_PENDING" ]; then
    if [ -z "$fs" ]; then
      ep_log "creating $EP_FILESYSTEM on $(ep_mapper_path)"
      "mkfs.$EP_FILESYSTEM" -q -L "$EP_FS_LABEL" "$(ep_mapper_path)"
      ep_did mkfs
    fi
    ep_set_marker "$EP_SUBSYSTEM"
    return 0
  fi
  [ "$subsystem" = "$EP_SUBSYSTEM" ] || ep_die "unexpected LUKS subsystem '$subsystem' on $EP_SOURCE"
  [ -n "$fs" ] || ep_die "$(ep_mapper_path) holds no filesystem although this stack created one earlier; refusing to run mkfs (data could be lost). Investigate, or restore a backup."
  [ "$fs" = "$EP_FILESYSTEM" ] || ep_die "$(ep_mapper_path) holds $fs, expected $EP_FILESYSTEM"
}

# An empty, immutable mount point: while the volume is not mounted nothing can be written there,
# so no data can land unencrypted on the root filesystem.
ep_guard_mountpoint() {
  if [ -L "$EP_MOUNT" ]; then ep_die "refusing to mount on the symlink $EP_MOUNT"; fi
  if [ ! -d "$EP_MOUNT" ]; then
    mkdir -p -- "$EP_MOUNT"
    chmod 0755 -- "$EP_MOUNT"
  fi
  if command -v chattr >/dev/null 2>&1; then
    chattr +i -- "$EP_MOUNT" 2>/dev/null || ep_log "warning: could not make $EP_MOUNT immutable (filesystem without attributes)"
  fi
}

ep_mount() {
  local where
  where=$(ep_mounted_at)
  if [ -n "$where" ]; then
    [ "$where" = "$(ep_mountinfo_escape "$EP_MOUNT")" ] || ep_die "$(ep_mapper_path) is mounted elsewhere: $where"
    return 0
  fi
  if ep_path_is_mountpoint "$EP_MOUNT"; then
    ep_die "something else is mounted on $EP_MOUNT"
  fi
  ep_guard_mountpoint
  mount -t "$EP_FILESYSTEM" -o nodev,nosuid -- "$(ep_mapper_path)" "$EP_MOUNT"
  ep_log "mounted $(ep_mapper_path) on $EP_MOUNT"
  ep_did mounted
}

ep_unmount() {
  local where
  where=$(ep_mounted_at all)
  if [ -n "$where" ]; then
    local m
    while IFS= read -r m; do
      umount -- "$(printf '%b' "$m")"
    done <<<"$where"
    ep_log "unmounted $(ep_mapper_path)"
    ep_did unmounted
  fi
}

# The directory Docker binds. It exists only inside the mounted filesystem, so a container whose
# volume is not unlocked fails to start instead of writing to the bare mount point.
ep_prepare_data_dir() {
  ep_path_is_mountpoint "$EP_MOUNT" || ep_die "$EP_MOUNT is not mounted"
  # The filesystem's root stays root-owned and closed to writers and is bound by no container, so
  # nobody can swap the data directory (the source Docker binds, and follows at container
  # start) for a symlink; one found there anyway is refused, not followed.
  chown -h 0:0 -- "$EP_MOUNT"
  chmod go-w -- "$EP_MOUNT"
  if [ -L "$EP_DATA_DIR" ]; then ep_die "refusing to follow the symlink $EP_DATA_DIR"; fi
  if [ ! -d "$EP_DATA_DIR" ]; then
    mkdir -- "$EP_DATA_DIR"
    ep_did data-dir
  fi
  chown -h -- "$EP_DATA_OWNER" "$EP_DATA_DIR"
  chmod -- "$EP_DATA_MODE" "$EP_DATA_DIR"
}
