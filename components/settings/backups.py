"""Encrypted backups of the volumes' data: config key `backups`.

restic copies each backed-up volume's data directory (read while the volume is unlocked and its
containers are paused) into a repository that is not on the host's own disks: an SFTP server, or
a local path on another disk. The repository is encrypted by restic with a password the program
generates (a Pulumi secret, on the secrets volume on the host). Where a repository may be is one
rule, platform_rules.backup_repository, shared with the policy pack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from platform_rules.backup_repository import SFTP_EXAMPLE, repository_problem

from .base import Flag, Integer, Model, ResourceName
from .grammar import grammar
from .keys import KeyProblem
from .paths import PlatformDirectory

if TYPE_CHECKING:
    from . import StackSettings

DAILY_AT = grammar("time of day", r"(?P<hour>[01][0-9]|2[0-3]):(?P<minute>[0-5][0-9])", "02:30")
MAX_KEEP = 1000


class BackupRepositorySettings(Model):
    """Config key `backups.repository`: where restic keeps the encrypted snapshots."""

    kind: Literal["local", "sftp"] | None = Field(
        None,
        description="'sftp': an SFTP server (url); 'local': a path on another disk of the host (path, "
        "otherDevice). Required when backups are enabled.",
    )
    path: PlatformDirectory | None = Field(
        None, description="kind local: the repository's absolute path on the host, on another disk."
    )
    other_device: Flag | None = Field(
        None,
        description="kind local: must be true, asserting that path is on another disk than the "
        "volumes and the root filesystem (the host program checks it too).",
    )
    url: str | None = Field(
        None, description=f"kind sftp: the restic repository, sftp:USER@HOST:/ABSOLUTE/PATH ({SFTP_EXAMPLE})."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        problem = repository_problem(value)
        if problem is None and not value.startswith("sftp:"):
            problem = f"must start with 'sftp:' (a local path goes in path, kind local), got {value!r}"
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _kind(self) -> BackupRepositorySettings:
        if self.kind == "local":
            if self.url is not None:
                raise KeyProblem("url", "only used when kind is 'sftp'")
            if self.path is None:
                raise KeyProblem("path", "required when kind is 'local'")
            if self.other_device is not True:
                raise KeyProblem(
                    "otherDevice",
                    "must be true when kind is 'local': a backup on the volumes' own disk is lost with "
                    "them (mount another disk at path, then set otherDevice: true)",
                )
        elif self.kind == "sftp":
            if self.path is not None:
                raise KeyProblem("path", "only used when kind is 'local'")
            if self.other_device is not None:
                raise KeyProblem("otherDevice", "only used when kind is 'local'")
            if self.url is None:
                raise KeyProblem("url", f"required when kind is 'sftp' (e.g. {SFTP_EXAMPLE})")
        return self

    def restic_repository(self) -> str:
        """The repository as restic spells it: the path itself, or the sftp url."""
        if self.kind == "local" and self.path is not None:
            return self.path
        if self.kind == "sftp" and self.url is not None:
            return self.url
        raise ValueError("no repository configured")


class RetentionSettings(Model):
    """Config key `backups.retention`: which snapshots `restic forget --prune` keeps."""

    keep_daily: Integer = Field(7, ge=0, le=MAX_KEEP, description="Daily snapshots kept.")
    keep_weekly: Integer = Field(4, ge=0, le=MAX_KEEP, description="Weekly snapshots kept.")
    keep_monthly: Integer = Field(12, ge=0, le=MAX_KEEP, description="Monthly snapshots kept.")

    @model_validator(mode="after")
    def _keeps_something(self) -> RetentionSettings:
        if self.keep_daily == self.keep_weekly == self.keep_monthly == 0:
            raise KeyProblem(
                "keepDaily", "at least one of keepDaily, keepWeekly, keepMonthly must be above 0"
            )
        return self


class BackupSettings(Model):
    """Config key `backups`."""

    enabled: Flag = Field(False, description="Back the volumes' data up with restic, daily, off the host.")
    repository: BackupRepositorySettings = Field(
        default_factory=BackupRepositorySettings, description="Where the encrypted snapshots go."
    )
    daily_at: str = Field("02:30", description="Time of day (HH:MM, 24h, host time) of the daily backup.")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="Snapshots kept by restic forget --prune."
    )
    volumes: list[ResourceName] | None = Field(
        None,
        description="Volumes backed up (default: every volume but runtime.logsVolume).",
    )

    @field_validator("daily_at")
    @classmethod
    def _daily_at(cls, value: str) -> str:
        if not DAILY_AT.matches(value):
            raise ValueError(f"must be a time of day HH:MM (24h) such as '02:30', got {value!r}")
        return value

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return names
        if not names:
            raise ValueError("name at least one volume (or leave volumes out for the default)")
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                raise KeyProblem(index, f"{name!r} is listed twice")
            seen.add(name)
        return names

    @model_validator(mode="after")
    def _repository_when_enabled(self) -> BackupSettings:
        if self.enabled and self.repository.kind is None:
            raise KeyProblem(("repository", "kind"), "required when backups are enabled ('sftp' or 'local')")
        return self

    @property
    def daily_hour_minute(self) -> tuple[int, int]:
        match = DAILY_AT.match(self.daily_at)
        assert match is not None
        return int(match.group("hour")), int(match.group("minute"))


def backup_volume_names(settings: StackSettings) -> tuple[str, ...]:
    """The volumes backed up: `backups.volumes`, or every volume but the logs volume."""
    chosen = settings.backups.volumes
    if chosen is not None:
        return tuple(chosen)
    return tuple(name for name in settings.volumes if name != settings.runtime.logs_volume)


def restic_repository(settings: StackSettings) -> str:
    """The repository as restic spells it (`local`: the path itself, `sftp`: the url)."""
    return settings.backups.repository.restic_repository()
