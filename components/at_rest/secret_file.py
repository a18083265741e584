"""Files and directories placed on an EncryptedVolume by a host Command.

- SecretFile: a secret (TLS private key, password). The content is the Command's stdin, marked
  secret; it never appears in argv, environment, logs or plain state.
- VolumeFile: a plain file (configuration, a public certificate). Same program; the content is
  the Command's stdin as a plain value, so reviewers and the policy pack read it at preview.
- VolumeDirectory: a directory with owner and mode, for a container to bind and write into.

The programs (components/scripts/secret_file/, invoked as `ep-secret-file-<name>`) refuse to act
unless the volume's mount point is its unlocked LUKS mapping, so nothing can land on the host's
unencrypted root filesystem or in a container image layer. Everything they write lives below the
volume's binds directory (`<mount>/binds`, root-owned, beside the data directory, bound by no
container as a whole); containers see one directory of it each (`subdirectory_volume`).

    key = SecretFile("edge-tls-key", SecretFileArgs(
        host=host, volume=volumes["config-secrets"], path="edge-tls/edge.key",
        content=secrets.edge_tls_private_key, owner="65532:65532", mode="0400",
        dir_owner="0:0", dir_mode="0755"))
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_docker as docker

from components.at_rest.encrypted_volume import LABEL_PREFIX, EncryptedVolume, volume_labels
from components.host import DockerHost
from components.settings.grammar import UID_GID
from components.shell import SCRIPTS_ROOT, invocation, render_shell_program

SCRIPTS_DIR = SCRIPTS_ROOT / "secret_file"
LIBRARIES = (SCRIPTS_ROOT / "common.sh", SCRIPTS_ROOT / "volume_lock.sh", SCRIPTS_DIR / "lib.sh")
PROGRAMS = ("install", "remove", "ensure_directory")
INVOCATION_PREFIX = "ep-secret-file-"

_RELATIVE = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
_MODE = re.compile(r"0[0-7]{3}")


@dataclass(frozen=True)
class VolumeFileSpec:
    """Plain parameters of the programs (never the content)."""

    name: str
    mount: str  # the volume's LUKS mount point
    mapper: str  # its /dev/mapper name
    base_dir: str  # root-owned directory below the mount; relative paths start here
    relative_path: str
    owner: str = "0:0"
    mode: str = "0400"
    dir_mode: str = "0700"
    secret: bool = True  # secrets: owner-only modes; other files: nobody else may write
    # The LUKS UUID of the volume: part of the program text, so a new volume (another UUID, so it
    # starts empty) changes the command and the provider runs `update`, which writes the file
    # again. Not a trigger: a changed trigger replaces the command, and the old command's delete
    # program would then remove the file its replacement had just written.
    luks_uuid: str = ""
    dir_owner: str | None = None  # owner of the file's own directory (default: the file's owner)

    def __post_init__(self) -> None:
        parts = self.relative_path.split("/")
        if not _RELATIVE.fullmatch(self.relative_path) or any(p in (".", "..") for p in parts):
            raise ValueError(f"volume file path must be relative without '.' or '..': {self.relative_path!r}")
        for owner in (self.owner, self.directory_owner):
            if not UID_GID.matches(owner):
                raise ValueError(f"owner must be numeric uid:gid: {owner!r}")
        # A secret's file is owner-only. Its directory is owner-only when the file's owner owns it;
        # a root-owned directory that a container only reads (the edge's TLS key) may be
        # traversable by others, never writable.
        forbidden = 0o077 if self.secret else 0o022
        directory_forbidden = forbidden if self.directory_owner == self.owner else 0o022
        for mode, mask in ((self.mode, forbidden), (self.dir_mode, directory_forbidden)):
            if not _MODE.fullmatch(mode) or int(mode, 8) & mask:
                allowed = (
                    "owner-only (e.g. 0400, 0600, 0700)"
                    if mask == 0o077
                    else "not writable by others (e.g. 0444, 0755)"
                )
                raise ValueError(f"mode must be {allowed}: {mode!r}")
        if not self.base_dir.startswith(self.mount + "/"):
            raise ValueError(f"base directory {self.base_dir!r} is not inside the mount {self.mount!r}")

    @property
    def directory_owner(self) -> str:
        return self.dir_owner if self.dir_owner is not None else self.owner

    @property
    def host_path(self) -> str:
        return f"{self.base_dir}/{self.relative_path}"

    def params(self) -> dict[str, str]:
        return {
            "EP_NAME": self.name,
            "EP_MOUNT": self.mount,
            "EP_MAPPER": self.mapper,
            "EP_LUKS_UUID": self.luks_uuid,
            "EP_BASE_DIR": self.base_dir,
            "EP_RELATIVE_PATH": self.relative_path,
            "EP_OWNER": self.owner,
            "EP_MODE": self.mode,
            "EP_DIR_OWNER": self.directory_owner,
            "EP_DIR_MODE": self.dir_mode,
        }


def render_program(program: str, spec: VolumeFileSpec) -> str:
    """A complete bash program: parameter block, library, then the program body."""
    if program not in PROGRAMS:
        raise ValueError(f"unknown secret-file program {program!r}")
    return render_shell_program(
        f"encrypted-platform secret-file/{program} for {spec.name!r}.",
        spec.params(),
        LIBRARIES,
        (SCRIPTS_DIR / f"{program}.sh").read_text(),
    )


def spec_for(
    name: str,
    volume: EncryptedVolume,
    relative_path: str,
    *,
    owner: str,
    mode: str,
    dir_mode: str = "0700",
    secret: bool = True,
    dir_owner: str | None = None,
) -> VolumeFileSpec:
    return VolumeFileSpec(
        name=name,
        mount=volume.spec.mount,
        mapper=volume.spec.mapper,
        luks_uuid=volume.spec.uuid,
        base_dir=volume.spec.binds_dir,
        relative_path=relative_path,
        owner=owner,
        mode=mode,
        dir_mode=dir_mode,
        secret=secret,
        dir_owner=dir_owner,
    )


def _command(
    name: str,
    host: DockerHost,
    volume: EncryptedVolume,
    spec: VolumeFileSpec,
    *,
    create_program: str,
    delete_program: str | None,
    stdin: pulumi.Input[str] | None,
    parent: pulumi.Resource,
) -> pulumi.CustomResource:
    become = host.become
    create = invocation(render_program(create_program, spec), f"{INVOCATION_PREFIX}{name}", become=become)
    delete = (
        invocation(render_program(delete_program, spec), f"{INVOCATION_PREFIX}remove-{name}", become=become)
        if delete_program
        else None
    )
    return host.run(
        f"{name}-install",
        create=create,
        update=create,
        delete=delete,
        stdin=stdin,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[volume]),
    )


class _OnVolume(pulumi.ComponentResource):
    """What SecretFile, VolumeFile and VolumeDirectory share: one host Command that puts a path on
    an unlocked EncryptedVolume (its programs refuse storage that is not the volume's mapping)."""

    TYPE: ClassVar[str]
    CREATE_PROGRAM: ClassVar[str] = "install"
    DELETE_PROGRAM: ClassVar[str | None] = "remove"

    def __init__(
        self,
        name: str,
        host: DockerHost,
        volume: EncryptedVolume,
        path: str,
        spec: VolumeFileSpec,
        stdin: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None,
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        self.spec = spec
        self.relative_path = path
        self.command = _command(
            name,
            host,
            volume,
            spec,
            create_program=self.CREATE_PROGRAM,
            delete_program=self.DELETE_PROGRAM,
            stdin=stdin,
            parent=self,
        )
        self.register_outputs({"path": path, "volume": volume.volume_name})


@dataclass(frozen=True)
class SecretFileArgs:
    host: DockerHost
    volume: EncryptedVolume
    path: str  # relative to the volume's binds directory
    content: pulumi.Input[str]  # the secret
    owner: str = "0:0"
    mode: str = "0400"
    dir_mode: str = "0700"
    dir_owner: str | None = None  # the file's directory (default: owner)


class SecretFile(_OnVolume):
    """Child: the host Command (create/update = install from secret stdin, delete = remove)."""

    TYPE = "encrypted-platform:storage:SecretFile"

    def __init__(self, name: str, args: SecretFileArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = spec_for(
            name,
            args.volume,
            args.path,
            owner=args.owner,
            mode=args.mode,
            dir_mode=args.dir_mode,
            dir_owner=args.dir_owner,
        )
        super().__init__(
            name, args.host, args.volume, args.path, spec, pulumi.Output.secret(args.content), opts
        )


@dataclass(frozen=True)
class VolumeFileArgs:
    host: DockerHost
    volume: EncryptedVolume
    path: str  # relative to the volume's binds directory
    content: pulumi.Input[str]  # plain: visible in the Command's inputs
    owner: str = "0:0"
    mode: str = "0444"
    dir_mode: str = "0755"


class VolumeFile(_OnVolume):
    """A plain file on an encrypted volume. Child: the host Command (content on plain stdin)."""

    TYPE = "encrypted-platform:storage:VolumeFile"

    def __init__(self, name: str, args: VolumeFileArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        spec = spec_for(
            name,
            args.volume,
            args.path,
            owner=args.owner,
            mode=args.mode,
            dir_mode=args.dir_mode,
            secret=False,
        )
        super().__init__(name, args.host, args.volume, args.path, spec, args.content, opts)


@dataclass(frozen=True)
class VolumeDirectoryArgs:
    host: DockerHost
    volume: EncryptedVolume
    path: str  # relative to the volume's binds directory
    owner: str = "0:0"
    mode: str = "0700"


class VolumeDirectory(_OnVolume):
    """A directory on an encrypted volume, kept (with what a container wrote there) on delete."""

    TYPE = "encrypted-platform:storage:VolumeDirectory"
    CREATE_PROGRAM = "ensure_directory"
    DELETE_PROGRAM = None

    def __init__(
        self, name: str, args: VolumeDirectoryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        spec = spec_for(name, args.volume, args.path, owner=args.owner, mode=args.mode, dir_mode=args.mode)
        super().__init__(name, args.host, args.volume, args.path, spec, None, opts)


def subdirectory_volume(
    name: str,
    *,
    host: DockerHost,
    volume: EncryptedVolume,
    path: str,
    labels: Mapping[str, str],
    depends_on: Sequence[pulumi.Resource],
    parent: pulumi.Resource,
) -> docker.Volume:
    """A docker.Volume bound to one directory of an encrypted volume, so a container sees only that
    directory (not the other services' files on the same volume). It depends on the volume (its
    LUKS command) and on whatever creates the directory.

    The directory sits below the volume's root-owned binds directory, never below its data
    directory: Docker resolves a bind source when the container starts and follows a symlink
    there, so a container that could write the source's parent (a service owning the data
    directory) could swap the source for a symlink and make Docker bind any host path into
    another container. Every parent of a source is root-owned and bound by no container."""
    all_labels = {**volume_labels(volume.spec), **labels}
    return docker.Volume(
        name,
        name=f"{LABEL_PREFIX}-{name}",
        driver="local",
        driver_opts={"type": "none", "o": "bind", "device": f"{volume.spec.binds_dir}/{path}"},
        labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in all_labels.items()],
        opts=pulumi.ResourceOptions(parent=parent, provider=host.provider, depends_on=[volume, *depends_on]),
    )
