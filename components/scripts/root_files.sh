# shellcheck shell=bash
# Directories and files root keeps for itself on the host (the LUKS and backup programs): never
# through a symlink, owned by root, written atomically.

# A root-only host directory of ours (keys, header backups, image files, backup state): created if missing,
# never a symlink, owned by root and closed to everyone else.
ep_root_directory() {
  local path=$1
  if [ -L "$path" ]; then ep_die "refusing to follow the symlink $path (it points to $(readlink -- "$path"))"; fi
  mkdir -p -- "$path"
  if [ -L "$path" ] || [ ! -d "$path" ]; then ep_die "refusing to use $path: it is not a directory"; fi
  [ "$(stat -c %u -- "$path")" = 0 ] || ep_die "refusing to use $path: it is not owned by root"
  chmod 0700 -- "$path"
}

# Writes stdin to a file atomically with the given mode, only when the content differs.
# Prints "changed" when it wrote.
ep_install_file() {
  local path=$1 mode=$2 tmp
  if [ -L "$path" ]; then ep_die "refusing to replace the symlink $path"; fi
  tmp=$(mktemp -- "${path}.XXXXXX")
  cat >"$tmp"
  chmod -- "$mode" "$tmp"
  if [ -f "$path" ] && cmp -s -- "$tmp" "$path"; then
    rm -f -- "$tmp"
    return 0
  fi
  mv -f -- "$tmp" "$path"
  printf 'changed\n'
}
