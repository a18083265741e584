# shellcheck shell=bash
# delete of the backup Command: removes the host tool and its schedule, never the repository.

ep_main() {
  ep_require_root
  ep_die "not implemented yet"
}

ep_main "$@"
