"""One table of restic repository spellings through platform_rules.backup_repository, the rule
the settings (backups.repository.url) and the policy pack share, and the settings' restic
spelling of each repository kind."""

from __future__ import annotations

import pytest

from components.settings import parse_settings
from components.settings.backups import backup_volume_names, restic_repository
from platform_rules.backup_repository import plain_http, repository_problem

pytestmark = pytest.mark.unit

ACCEPTED = [
    "/mnt/backup-disk/ep",
    "local:/mnt/backup-disk/ep",
    "sftp:backup@backup.example.org:/srv/restic/encrypted-platform",
    "sftp:backup@192.0.2.20:/srv/restic/ep",
    "sftp:_restic-1@backup-1.example.org:/srv/by-path/pci-0000:00:04.0",
]

# (repository, fragment of the reason)
REFUSED = [
    ("http://backup.example.org/ep", "plain http"),
    ("HTTP://backup.example.org/ep", "plain http"),
    ("rest:http://backup.example.org:8000/ep", "plain http"),
    ("rest:HTTP://backup.example.org:8000/ep", "plain http"),
    ("s3:http://minio.example.org/bucket", "plain http"),
    (" s3:http://minio.example.org/bucket", "plain http"),
    ("rest:https://backup.example.org:8000/ep", "backend 'rest' is not supported"),
    ("s3:https://s3.example.org/bucket", "backend 's3' is not supported"),
    ("s3:s3.amazonaws.com/bucket", "backend 's3' is not supported"),
    ("swift:container:/ep", "backend 'swift' is not supported"),
    ("b2:bucket:ep", "backend 'b2' is not supported"),
    ("azure:container:/ep", "backend 'azure' is not supported"),
    ("gs:bucket:/ep", "backend 'gs' is not supported"),
    ("rclone:remote:ep", "backend 'rclone' is not supported"),
    ("sftp:backup@backup.example.org:srv/restic", "sftp:USER@HOST:/ABSOLUTE/PATH"),
    ("sftp://backup@backup.example.org//srv/restic", "sftp:USER@HOST:/ABSOLUTE/PATH"),
    ("sftp:backup.example.org:/srv/restic", "sftp:USER@HOST:/ABSOLUTE/PATH"),
    ("sftp:Backup@backup.example.org:/srv/restic", "sftp:USER@HOST:/ABSOLUTE/PATH"),
    ("sftp:backup@backup.example.org:/srv/restic ep", "sftp:USER@HOST:/ABSOLUTE/PATH"),
    ("sftp:backup@backup.example.org:/srv/restic\n", "sftp:USER@HOST:/ABSOLUTE/PATH"),
    ("sftp:backup@backup.example.org:/srv/../etc", "normalised"),
    ("backup-repo", "absolute local path"),
    ("local:backup-repo", "absolute local path"),
    ("/mnt/backup'$(id)'", "absolute local path"),
    ("/mnt/backup/../../etc", "normalised"),
    ("/mnt/./backup", "normalised"),
    ("", "absolute local path"),
]


@pytest.mark.parametrize("repository", ACCEPTED)
def test_supported_repositories_are_accepted(repository: str) -> None:
    assert repository_problem(repository) is None
    assert not plain_http(repository)


@pytest.mark.parametrize(("repository", "fragment"), REFUSED)
def test_other_repositories_are_refused_with_the_reason(repository: str, fragment: str) -> None:
    problem = repository_problem(repository)
    assert problem is not None and fragment in problem, problem
    assert plain_http(repository) == (fragment == "plain http")


def test_the_restic_spelling_of_each_kind() -> None:
    sftp = parse_settings({"backups": {"enabled": True, "repository": {"kind": "sftp", "url": ACCEPTED[2]}}})
    local = parse_settings(
        {
            "backups": {
                "enabled": True,
                "repository": {"kind": "local", "path": "/mnt/backup-disk/ep", "otherDevice": True},
            }
        }
    )
    assert restic_repository(sftp) == ACCEPTED[2]
    assert restic_repository(local) == "/mnt/backup-disk/ep"
    for settings in (sftp, local):
        assert repository_problem(restic_repository(settings)) is None


def test_every_volume_but_the_logs_is_backed_up_by_default() -> None:
    settings = parse_settings({"runtime": {"logsVolume": "documents"}})
    assert backup_volume_names(settings) == ("app-db", "vector-store", "config-secrets", "logs")
    chosen = parse_settings({"backups": {"volumes": ["documents", "app-db"]}})
    assert backup_volume_names(chosen) == ("documents", "app-db")


def test_backups_are_off_by_default() -> None:
    settings = parse_settings({})
    assert settings.backups.enabled is False
    assert settings.backups.daily_at == "02:30"
    assert (settings.backups.retention.keep_daily, settings.backups.retention.keep_weekly) == (7, 4)
