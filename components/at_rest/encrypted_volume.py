"""EncryptedVolume: a Docker volume whose data sits on a LUKS2 device of the Docker host."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.at_rest.luks_scripts import LuksVolumeSpec, render_program, volume_spec
from components.host import DockerHost
from components.settings import EncryptionSettings, VolumeSettings
from components.settings.keys import NAME_PREFIX
from components.settings.storage import LUKS_CIPHER, LUKS_KEY_SIZE_BITS
from components.shell import invocation

PASSPHRASE_LENGTH = 64  # alphanumeric: about 380 bits, and no quoting or newline surprises

# Labels on the docker.Volume: plain facts for reviewers and the policy pack.
LABEL_PREFIX = NAME_PREFIX


@dataclass(frozen=True)
class EncryptedVolumeArgs:
    host: DockerHost
    volume: VolumeSettings
    encryption: EncryptionSettings
    project: str
    stack: str


def volume_labels(spec: LuksVolumeSpec) -> dict[str, str]:
    return {
        f"{LABEL_PREFIX}.volume": spec.volume,
        f"{LABEL_PREFIX}.luks.mapping": spec.mapper,
        f"{LABEL_PREFIX}.luks.uuid": spec.uuid,
        f"{LABEL_PREFIX}.luks.cipher": LUKS_CIPHER,
        f"{LABEL_PREFIX}.luks.key-size": str(LUKS_KEY_SIZE_BITS),
        f"{LABEL_PREFIX}.luks.mount-point": spec.mount,
    }


def manual_unlock_request(command_line: str) -> str:
    """The converge step as an `update` that differs on every run, so that every `pulumi up`
    re-opens volumes a reboot locked. A per-run value in `update` makes the provider run `update`;
    one in `triggers` would make it REPLACE the command: create the new one, then run the old one's
    delete program, which unmounts and closes the volume under the running containers. The value
    is a trailing comment of the command line: the login shell drops it, the program never sees it."""
    return f"{command_line} # unlock request {uuid.uuid4().hex}"


class EncryptedVolume(pulumi.ComponentResource):
    """Children: the passphrase(s) (random, secret), the LUKS command on the host (create =
    converge, delete = unmount and close), an optional re-encryption command, and the
    docker.Volume bound to the data directory inside the mounted LUKS filesystem."""

    def __init__(self, name: str, args: EncryptedVolumeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("encrypted-platform:storage:EncryptedVolume", name, None, opts)
        spec = volume_spec(name, args.volume, args.encryption, project=args.project, stack=args.stack)
        self.spec = spec
        become = args.host.become

        # One passphrase per key version: the current one and the previous one (for the rotation
        # that follows a version bump) reach the host; both are protected, because a passphrase the
        # engine deletes is a volume nobody can open again (in manual mode the state holds the only
        # copy). The one before them is still declared, unprotected, so that the next bump may
        # delete it; any other version still in the state stays protected and makes a keyVersion
        # jump or decrease fail instead of losing the key that opens the header.
        protect = not spec.destroy_data
        current = self._passphrase(name, spec.key_version, protect=protect)
        # The escrow (`volumePassphrases`, a secret stack output) reads the current one from here.
        self.current_passphrase: pulumi.Output[str] = current.result
        keys = [current.result]
        if spec.key_version > 1:
            keys.append(self._passphrase(name, spec.key_version - 1, protect=protect).result)
        if spec.key_version > 2:
            self._passphrase(name, spec.key_version - 2, protect=False)
        stdin: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(*keys).apply(lambda ks: "\n".join(ks) + "\n")
        )

        ensure = invocation(render_program("ensure", spec), f"ep-luks-ensure-{name}", become=become)
        self.luks = args.host.run(
            f"{name}-luks",
            create=ensure,
            update=manual_unlock_request(ensure) if spec.unlock_at_boot == "manual" else ensure,
            delete=invocation(render_program("delete", spec), f"ep-luks-delete-{name}", become=become),
            stdin=stdin,
            opts=pulumi.ResourceOptions(parent=self),
        )
        depends: list[pulumi.Resource] = [self.luks]
        if spec.reencrypt_generation > 0:
            reencrypt = args.host.run(
                f"{name}-reencrypt",
                create=invocation(
                    render_program("reencrypt", spec), f"ep-luks-reencrypt-{name}", become=become
                ),
                # Once per generation: a new generation is a trigger change, which replaces this
                # command and runs `create`. Every other change (the next key on stdin, a rotated
                # SSH key, a new program text) is an update, which without `update` would run
                # `create` again and re-encrypt the whole volume once more.
                update="true",
                stdin=pulumi.Output.secret(current.result.apply(lambda k: k + "\n")),
                triggers=[spec.reencrypt_generation],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.luks]),
            )
            depends.append(reencrypt)

        self.volume = docker.Volume(
            name,
            name=f"{LABEL_PREFIX}-{name}",
            driver="local",
            driver_opts={"type": "none", "o": "bind", "device": spec.data_dir},
            labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in volume_labels(spec).items()],
            opts=pulumi.ResourceOptions(parent=self, provider=args.host.provider, depends_on=depends),
        )
        self.volume_name: pulumi.Output[str] = self.volume.name
        self.mount_point = spec.mount
        self.data_dir = spec.data_dir
        self.register_outputs(
            {
                "volumeName": self.volume.name,
                "mapping": spec.mapper,
                "mountPoint": spec.mount,
                "luksUuid": spec.uuid,
                "keyVersion": spec.key_version,
            }
        )

    def _passphrase(self, name: str, version: int, *, protect: bool) -> random.RandomPassword:
        return random.RandomPassword(
            f"{name}-passphrase-v{version}",
            length=PASSPHRASE_LENGTH,
            special=False,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["result"], protect=protect),
        )
