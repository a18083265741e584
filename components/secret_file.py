"""SecretFile: one secret (a TLS private key, a password file) written onto an EncryptedVolume.

The content travels only on the host Command's stdin (a Pulumi secret); the command text holds
plain parameters and the program from components/scripts/secret_file/. The program refuses to
write unless the volume's data directory sits on its unlocked LUKS mapping, so a secret can never
land on the host's unencrypted root filesystem or in a container image layer. Containers see the
file by mounting the volume.

    key = SecretFile("edge-tls-key", SecretFileArgs(
        host=host, volume=volumes["config-secrets"], path="tls/edge.key",
        content=secrets.edge_tls_private_key, owner="0:0", mode="0400"))
    # in the container: <mount target of the volume>/tls/edge.key
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pulumi

from .encrypted_volume import EncryptedVolume
from .host import DockerHost
from .shell import invocation, render_shell_program

SCRIPTS_DIR = Path(__file__).parent / "scripts" / "secret_file"
PROGRAMS = ("install", "remove")

_RELATIVE = re.compile(r"^[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")
_OWNER = re.compile(r"^\d{1,10}:\d{1,10}$")
_MODE = re.compile(r"^0[0-7]{3}$")


@dataclass(frozen=True)
class SecretFileSpec:
    """Plain parameters of the programs (never the secret)."""

    name: str
    mount: str  # the volume's LUKS mount point
    mapper: str  # its /dev/mapper name
    data_dir: str  # the directory the docker.Volume binds
    relative_path: str
    owner: str = "0:0"
    mode: str = "0400"
    dir_mode: str = "0700"

    def __post_init__(self) -> None:
        parts = self.relative_path.split("/")
        if not _RELATIVE.match(self.relative_path) or any(p in (".", "..") for p in parts):
            raise ValueError(f"secret file path must be relative without '.' or '..': {self.relative_path!r}")
        if not _OWNER.match(self.owner):
            raise ValueError(f"owner must be numeric uid:gid: {self.owner!r}")
        for mode in (self.mode, self.dir_mode):
            if not _MODE.match(mode) or int(mode, 8) & 0o077:
                raise ValueError(f"mode must be owner-only (e.g. 0400, 0600, 0700): {mode!r}")
        if not self.data_dir.startswith(self.mount + "/"):
            raise ValueError(f"data directory {self.data_dir!r} is not inside the mount {self.mount!r}")

    def params(self) -> dict[str, str]:
        return {
            "EP_NAME": self.name,
            "EP_MOUNT": self.mount,
            "EP_MAPPER": self.mapper,
            "EP_DATA_DIR": self.data_dir,
            "EP_RELATIVE_PATH": self.relative_path,
            "EP_OWNER": self.owner,
            "EP_MODE": self.mode,
            "EP_DIR_MODE": self.dir_mode,
        }


def render_program(program: str, spec: SecretFileSpec) -> str:
    """A complete bash program: parameter block, library, then the program body."""
    if program not in PROGRAMS:
        raise ValueError(f"unknown secret-file program {program!r}")
    return render_shell_program(
        f"encrypted-platform secret-file/{program} for {spec.name!r}.",
        spec.params(),
        [SCRIPTS_DIR / "lib.sh"],
        (SCRIPTS_DIR / f"{program}.sh").read_text(),
    )


def spec_for(
    name: str, volume: EncryptedVolume, relative_path: str, *, owner: str, mode: str
) -> SecretFileSpec:
    return SecretFileSpec(
        name=name,
        mount=volume.spec.mount,
        mapper=volume.spec.mapper,
        data_dir=volume.spec.data_dir,
        relative_path=relative_path,
        owner=owner,
        mode=mode,
    )


@dataclass(frozen=True)
class SecretFileArgs:
    host: DockerHost
    volume: EncryptedVolume
    path: str  # relative to the volume's data directory (= relative to the container mount)
    content: pulumi.Input[str]  # the secret
    owner: str = "0:0"
    mode: str = "0400"


class SecretFile(pulumi.ComponentResource):
    """Child: the host Command (create/update = install from stdin, delete = remove)."""

    def __init__(self, name: str, args: SecretFileArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("encrypted-platform:storage:SecretFile", name, None, opts)
        spec = spec_for(name, args.volume, args.path, owner=args.owner, mode=args.mode)
        self.spec = spec
        self.relative_path = args.path
        become = args.host.become
        install = invocation(render_program("install", spec), f"ep-secret-file-{name}", become=become)
        self.command = args.host.run(
            f"{name}-install",
            create=install,
            update=install,
            delete=invocation(render_program("remove", spec), f"ep-secret-file-remove-{name}", become=become),
            stdin=pulumi.Output.secret(args.content),
            # A new LUKS volume (another UUID) starts empty: write the file again.
            triggers=[args.volume.spec.uuid],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.volume]),
        )
        self.register_outputs({"path": args.path, "volume": args.volume.volume_name})
