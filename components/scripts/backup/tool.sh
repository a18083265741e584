# shellcheck shell=bash
# encrypted-platform-backup: the host tool (backup, restore, drill, snapshots, password-check).

ep_main() {
  ep_require_root
  ep_die "not implemented yet"
}

ep_main "$@"
