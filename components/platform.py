"""Platform: the whole deployment for one stack, composed from the components."""

from __future__ import annotations

import pulumi

from .encrypted_volume import EncryptedVolume, EncryptedVolumeArgs
from .host import DockerHost
from .settings import StackSecrets, StackSettings


class Platform(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        settings: StackSettings,
        secrets: StackSecrets,
        *,
        project: str,
        stack: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("encrypted-platform:index:Platform", name, None, opts)
        self.settings = settings
        child = pulumi.ResourceOptions(parent=self)
        self.host = DockerHost(
            "host",
            settings.host,
            private_key=secrets.ssh_private_key,
            project=project,
            stack=stack,
            opts=child,
        )
        self.volumes: dict[str, EncryptedVolume] = {
            volume_name: EncryptedVolume(
                volume_name,
                EncryptedVolumeArgs(
                    host=self.host,
                    volume=volume,
                    encryption=settings.encryption,
                    project=project,
                    stack=stack,
                ),
                opts=child,
            )
            for volume_name, volume in settings.volumes.items()
        }
        self.register_outputs(
            {
                "volumes": {n: v.volume_name for n, v in self.volumes.items()},
                "mountPoints": {n: v.mount_point for n, v in self.volumes.items()},
            }
        )
