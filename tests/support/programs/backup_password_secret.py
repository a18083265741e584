"""Rule backup-password-secret: restic's repository password in the environment, in the program
text or in a plain value, as a careless teammate writes it with raw pulumi_command."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from . import violation

RULE = "backup-password-secret"
REPOSITORY = "sftp:backup@backup.example.test:/srv/restic/ep"
BACKUP = "backup --tag volume=appdata /srv/appdata/data"
PASSWORD_FILE = "/srv/secrets/data/backup/repository-password"


@violation(RULE, resource="backup-env", exact=True)
def password_in_the_environment() -> None:
    """RESTIC_PASSWORD in the Command's environment (a secret value, still in every child's environ)."""
    command.local.Command(
        "backup-env",
        create=f"restic -r {REPOSITORY} {BACKUP}",
        environment={"RESTIC_PASSWORD": pulumi.Output.secret("correct-horse-battery")},
    )


@violation(RULE, resource="backup-export", exact=True)
def password_exported_in_the_program() -> None:
    """`export RESTIC_PASSWORD=...` in the program text."""
    command.local.Command(
        "backup-export",
        create=f"set -eu\nexport RESTIC_PASSWORD='correct-horse-battery'\nrestic -r {REPOSITORY} {BACKUP}\n",
    )


@violation(RULE, resource="backup-sudo-env", exact=True)
def password_through_sudo_env() -> None:
    """`sudo env RESTIC_PASSWORD=... restic backup`."""
    command.local.Command(
        "backup-sudo-env",
        create=f"sudo -n env RESTIC_PASSWORD=correct-horse-battery restic -r {REPOSITORY} {BACKUP}",
    )


@violation(RULE, resource="backup-echo", exact=True)
def password_command_printing_a_literal() -> None:
    """`--password-command "echo ..."`: the password is in the program text and restic's argv."""
    command.local.Command(
        "backup-echo",
        create=f"restic -r /mnt/backup-disk/ep --password-command 'echo correct-horse-battery' {BACKUP}",
    )


@violation(RULE, resource="backup-password-file", exact=True)
def password_file_written_from_a_plain_stdin() -> None:
    """A backup install's password file written from a plain (not secret) stdin."""
    command.local.Command(
        "backup-password-file",
        create=f"set -eu\nmkdir -p /srv/secrets/data/backup\ninstall -m 0400 /dev/stdin {PASSWORD_FILE}\n",
        stdin="correct-horse-battery",
    )
    command.local.Command(
        "backup-install",
        create=(
            "EP_BACKUP_STACK='prod'\n"
            f"EP_BACKUP_REPOSITORY='{REPOSITORY}'\n"
            f"EP_BACKUP_PASSWORD_FILE='{PASSWORD_FILE}'\n"
            "EP_BACKUP_VOLUMES='appdata'\n"
            "set -euo pipefail\n"
            'restic -r "$EP_BACKUP_REPOSITORY" --password-file "$EP_BACKUP_PASSWORD_FILE" cat config\n'
        ),
    )
