"""Pure renderers for the backup programs (no Pulumi here).

restic backs up every chosen EncryptedVolume's data directory and the LUKS header backups into
one encrypted repository off the host. The programs are real files under scripts/backup/: a
parameter block (EP_BACKUP_* variables, plain values only; the repository password stays in its
root-only file and reaches restic as `--password-file PATH`), the common library, the backup
library, then one program body. `install.sh` writes the host tool (`render_tool`, embedded with
`heredoc_function` as the LUKS programs embed the unlock helper) and its schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from components.at_rest.luks_scripts import LuksVolumeSpec
from components.settings.backups import BackupSettings
from components.settings.keys import NAME_PREFIX
from components.shell import SCRIPTS_ROOT, heredoc_function, render_shell_program

SCRIPTS_DIR = SCRIPTS_ROOT / "backup"
COMMON_LIBRARY = SCRIPTS_ROOT / "common.sh"
ROOT_FILES_LIBRARY = SCRIPTS_ROOT / "root_files.sh"
LIBRARY = SCRIPTS_DIR / "lib.sh"
TOOL_NAME = "encrypted-platform-backup"
TOOL_SUBCOMMANDS = ("backup", "restore", "drill", "snapshots", "password-check")
HEADER_BACKUP_TAG = "luks-headers"


@dataclass(frozen=True)
class BackupHostPaths:
    """Where the programs put things on the host. The component never changes these (no setting
    reaches them); the host tests point them into a temporary directory."""

    tool: str = f"/usr/local/sbin/{TOOL_NAME}"
    systemd_units: str = "/etc/systemd/system"
    systemd_runtime: str = "/run/systemd/system"  # exists only while systemd is PID 1
    cron_dir: str = "/etc/cron.d"
    lock_dir: str = "/run/encrypted-platform/locks"
    cache_dir: str = "/var/cache/encrypted-platform/restic"
    drill_dir: str = "/var/lib/encrypted-platform/drill"
    mapper_dir: str = "/dev/mapper"

    def params(self) -> dict[str, str]:
        return {
            "EP_BACKUP_TOOL": self.tool,
            "EP_BACKUP_SYSTEMD_UNITS": self.systemd_units,
            "EP_BACKUP_SYSTEMD_RUNTIME": self.systemd_runtime,
            "EP_BACKUP_CRON_DIR": self.cron_dir,
            "EP_BACKUP_LOCK_DIR": self.lock_dir,
            "EP_BACKUP_CACHE_DIR": self.cache_dir,
            "EP_BACKUP_DRILL_DIR": self.drill_dir,
            "EP_BACKUP_MAPPER_DIR": self.mapper_dir,
        }


@dataclass(frozen=True)
class BackupVolume:
    name: str  # volume name, e.g. "app-db"
    data_dir: str  # LuksVolumeSpec.data_dir (the mapper mount point + "/data")
    mount: str  # LuksVolumeSpec.mount
    mapper: str  # LuksVolumeSpec.mapper
    docker_volume: str  # "encrypted-platform-<name>"


@dataclass(frozen=True)
class BackupSpec:
    stack: str
    repository: str  # restic spelling (platform_rules.backup_repository checked)
    local_other_device: bool  # kind local: check the path is not on "/" nor on a volume mapper
    password_file: str  # absolute host path of the SecretFile (root 0400 on config-secrets)
    volumes: tuple[BackupVolume, ...]
    header_backup_dir: str  # encryption.headerBackupDir: backed up too (tag "luks-headers")
    daily_at: str  # "HH:MM"
    keep_daily: int
    keep_weekly: int
    keep_monthly: int
    host_paths: BackupHostPaths = field(default_factory=BackupHostPaths)

    def params(self) -> dict[str, str]:
        """EP_BACKUP_* plain values (never the password: only its file's path)."""
        hour, minute = self.daily_at.split(":")
        return {
            "EP_BACKUP_STACK": self.stack,
            "EP_BACKUP_REPOSITORY": self.repository,
            "EP_BACKUP_PASSWORD_FILE": self.password_file,
            "EP_BACKUP_VOLUMES": " ".join(volume.name for volume in self.volumes),
            "EP_BACKUP_DATA_DIRS": " ".join(volume.data_dir for volume in self.volumes),
            "EP_BACKUP_MOUNTS": " ".join(volume.mount for volume in self.volumes),
            "EP_BACKUP_MAPPERS": " ".join(volume.mapper for volume in self.volumes),
            "EP_BACKUP_DOCKER_VOLUMES": " ".join(volume.docker_volume for volume in self.volumes),
            "EP_BACKUP_HEADER_DIR": self.header_backup_dir,
            "EP_BACKUP_HEADER_TAG": HEADER_BACKUP_TAG,
            "EP_BACKUP_DAILY_AT": self.daily_at,
            "EP_BACKUP_DAILY_HOUR": hour,
            "EP_BACKUP_DAILY_MINUTE": minute,
            "EP_BACKUP_KEEP_DAILY": str(self.keep_daily),
            "EP_BACKUP_KEEP_WEEKLY": str(self.keep_weekly),
            "EP_BACKUP_KEEP_MONTHLY": str(self.keep_monthly),
            "EP_BACKUP_OTHER_DEVICE": "yes" if self.local_other_device else "no",
            **self.host_paths.params(),
        }


def _read(name: str) -> str:
    return (SCRIPTS_DIR / name).read_text()


def render_tool(spec: BackupSpec) -> str:
    """The host tool (installed as `spec.host_paths.tool`): backup, restore, drill, snapshots,
    password-check."""
    return render_shell_program(
        f"{TOOL_NAME}: encrypted backups of the {spec.stack!r} stack's volumes ({' '.join(TOOL_SUBCOMMANDS)}).",
        spec.params(),
        [COMMON_LIBRARY, ROOT_FILES_LIBRARY, LIBRARY],
        _read("tool.sh"),
        secrets_on_stdin=False,
    )


def render_install_program(spec: BackupSpec) -> str:
    """create/update of the backup Command: the tool, its schedule, the repository (initialised
    only when there is none)."""
    return render_shell_program(
        f"encrypted-platform backup/install for stack {spec.stack!r}.",
        spec.params(),
        [COMMON_LIBRARY, ROOT_FILES_LIBRARY, LIBRARY],
        _read("install.sh"),
        extra=[heredoc_function("ep_backup_tool_text", render_tool(spec), "EP_BACKUP_TOOL_EOF")],
        secrets_on_stdin=False,
    )


def render_uninstall_program(spec: BackupSpec) -> str:
    """delete of the backup Command: the tool and its schedule go; the repository stays."""
    return render_shell_program(
        f"encrypted-platform backup/uninstall for stack {spec.stack!r}.",
        spec.params(),
        [COMMON_LIBRARY, ROOT_FILES_LIBRARY, LIBRARY],
        _read("uninstall.sh"),
        secrets_on_stdin=False,
    )


def backup_spec(
    settings: BackupSettings,
    volumes: Mapping[str, LuksVolumeSpec],
    *,
    password_file: str,
    header_backup_dir: str,
    stack: str,
) -> BackupSpec:
    """The programs' parameters from the `backups` settings and the LUKS specs of the volumes
    backed up (by name): what the component renders, and what the vm tier runs."""
    repository = settings.repository
    return BackupSpec(
        stack=stack,
        repository=repository.restic_repository(),
        local_other_device=repository.kind == "local" and repository.other_device is True,
        password_file=password_file,
        volumes=tuple(
            BackupVolume(
                name=name,
                data_dir=spec.data_dir,
                mount=spec.mount,
                mapper=spec.mapper,
                docker_volume=f"{NAME_PREFIX}-{name}",
            )
            for name, spec in volumes.items()
        ),
        header_backup_dir=header_backup_dir,
        daily_at=settings.daily_at,
        keep_daily=settings.retention.keep_daily,
        keep_weekly=settings.retention.keep_weekly,
        keep_monthly=settings.retention.keep_monthly,
    )
