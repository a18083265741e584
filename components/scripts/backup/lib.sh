# shellcheck shell=bash
# Helpers for the backup programs (components/at_rest/backup_scripts.py). The renderer places this
# file after the parameter block (EP_BACKUP_* variables) and the common library.
#
# Secrets rule: the repository password stays in its root-only file; restic reads it through
# --password-file PATH. It is never in argv, the environment, or a log line.

set +o xtrace

# Messages (common.sh) name the stack's backups.
ep_log_tag() { printf 'encrypted-platform-backup[%s]' "${EP_BACKUP_STACK:-?}"; }
