"""VolumeBackups: encrypted restic backups of EncryptedVolumes' data, off the host.

Children: the repository password (random, a secret output), its root-only file on the secrets
volume (SecretFile: the password reaches the host on the Command's secret stdin only, and restic
reads it from that file with --password-file), and the host Command that installs the backup
tool and its daily schedule and initialises the repository (create/update), or removes the tool
and the schedule (delete; the repository and its snapshots always stay).
The programs are rendered by components/at_rest/backup_scripts.py from settings only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.at_rest.backup_scripts import backup_spec, render_install_program, render_uninstall_program
from components.at_rest.encrypted_volume import EncryptedVolume
from components.at_rest.secret_file import SecretFile, SecretFileArgs
from components.host import DockerHost
from components.settings.backups import BackupSettings
from components.shell import invocation

PASSWORD_LENGTH = 48  # alphanumeric: some 285 bits, typed back by hand from the escrow if need be
# Below the secrets volume's binds directory (a path, not key material).
PASSWORD_PATH = "backup/repository-password"  # noqa: S105
INVOCATION_PREFIX = "ep-backup-"


@dataclass(frozen=True)
class VolumeBackupsArgs:
    host: DockerHost
    settings: BackupSettings
    volumes: Mapping[str, EncryptedVolume]  # the volumes backed up, by name
    secrets_volume: EncryptedVolume
    header_backup_dir: str  # encryption.headerBackupDir
    stack: str


class VolumeBackups(pulumi.ComponentResource):
    """Children: RandomPassword and SecretFile `backup-repository-password`, Command `backup-install`."""

    def __init__(
        self, name: str, args: VolumeBackupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("encrypted-platform:storage:VolumeBackups", name, None, opts)
        # Protected: without this password no snapshot can ever be read again.
        self.password = random.RandomPassword(
            "backup-repository-password",
            length=PASSWORD_LENGTH,
            special=False,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["result"], protect=True),
        )
        self.password_file = SecretFile(
            "backup-repository-password",
            SecretFileArgs(
                host=args.host,
                volume=args.secrets_volume,
                path=PASSWORD_PATH,
                content=self.password.result,
                owner="0:0",
                mode="0400",
                dir_mode="0700",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.spec = backup_spec(
            args.settings,
            {name: volume.spec for name, volume in args.volumes.items()},
            password_file=self.password_file.spec.host_path,
            header_backup_dir=args.header_backup_dir,
            stack=args.stack,
        )
        become = args.host.become
        install = invocation(render_install_program(self.spec), f"{INVOCATION_PREFIX}install", become=become)
        uninstall = invocation(
            render_uninstall_program(self.spec), f"{INVOCATION_PREFIX}uninstall", become=become
        )
        depends: list[pulumi.Resource] = [self.password_file]
        for volume in args.volumes.values():
            depends += [volume.luks, volume.volume]
        self.install = args.host.run(
            "backup-install",
            create=install,
            update=install,
            delete=uninstall,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
        self.repository_password: pulumi.Output[str] = pulumi.Output.secret(self.password.result)
        self.register_outputs(
            {
                "repository": self.spec.repository,
                "volumes": [volume.name for volume in self.spec.volumes],
                "dailyAt": self.spec.daily_at,
            }
        )
