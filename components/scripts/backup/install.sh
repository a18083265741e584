# shellcheck shell=bash
# create/update of the backup Command: installs the host tool and its daily schedule.

ep_main() {
  ep_require_root
  ep_die "not implemented yet"
}

ep_main "$@"
