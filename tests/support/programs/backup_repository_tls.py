"""Rule backup-repository-tls: restic repositories reached over plain http, as a careless
teammate writes them with raw pulumi_command."""

from __future__ import annotations

import pulumi_command as command

from . import violation

RULE = "backup-repository-tls"
BACKUP = "backup --tag volume=appdata /srv/appdata/data"


@violation(RULE, resource="backup-now", exact=True)
def rest_server_over_http() -> None:
    """`restic -r rest:http://...`: every request and the REST credentials travel in clear."""
    command.local.Command(
        "backup-now",
        create=f"restic -r rest:http://backup.example.test:8000/ep --password-file /etc/restic/pw {BACKUP}",
    )


@violation(RULE, resource="backup-s3", exact=True)
def exported_s3_over_http() -> None:
    """`export RESTIC_REPOSITORY=s3:http://...` in the program text."""
    command.local.Command(
        "backup-s3",
        create=(
            "set -eu\n"
            "export RESTIC_REPOSITORY=s3:http://minio.example.test:9000/backups\n"
            f"restic --password-file /etc/restic/pw {BACKUP}\n"
        ),
    )


@violation(RULE, resource="backup-env", exact=True)
def repository_in_the_environment() -> None:
    """RESTIC_REPOSITORY in the Command's environment, spelled with plain http."""
    command.local.Command(
        "backup-env",
        create=f"restic --password-file /etc/restic/pw {BACKUP}",
        environment={"RESTIC_REPOSITORY": "rest:http://backup.example.test:8000/ep"},
    )


@violation(RULE, resource="backup-sudo", exact=True)
def long_option_inside_sudo_bash() -> None:
    """`--repo=` inside `sudo -n bash -c '...'` is read too."""
    command.local.Command(
        "backup-sudo",
        create=f"sudo -n bash -c 'restic --repo=http://backup.example.test/ep -p /etc/restic/pw {BACKUP}'",
    )


@violation(RULE, resource="backup-install", exact=True)
def backup_install_to_a_plain_http_repository() -> None:
    """A backup install whose EP_BACKUP_REPOSITORY parameter is a REST server over plain http."""
    command.local.Command(
        "backup-install",
        create=(
            "EP_BACKUP_STACK='prod'\n"
            "EP_BACKUP_REPOSITORY='rest:http://backup.example.test:8000/ep'\n"
            "EP_BACKUP_PASSWORD_FILE='/srv/secrets/data/backup/repository-password'\n"
            "EP_BACKUP_VOLUMES='appdata'\n"
            "set -euo pipefail\n"
            'restic -r "$EP_BACKUP_REPOSITORY" --password-file "$EP_BACKUP_PASSWORD_FILE" cat config\n'
        ),
    )


@violation(RULE, resource="backup-insecure", exact=True)
def https_without_verification() -> None:
    """`--insecure-tls` accepts any certificate: https without TLS's protection."""
    command.local.Command(
        "backup-insecure",
        create=f"restic -r rest:https://backup.example.test/ep --insecure-tls -p /etc/restic/pw {BACKUP}",
    )
