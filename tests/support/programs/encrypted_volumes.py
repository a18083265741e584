"""Rule encrypted-volumes: data that would land outside LUKS."""

from __future__ import annotations

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from . import SWARM_DAEMON, violation
from .baseline import app, hardened, internal_network, luks_program, luks_volume

RULE = "encrypted-volumes"


@violation(RULE, resource="pgdata")
def default_driver_volume() -> None:
    """The classic: a named volume with Docker's defaults (data under /var/lib/docker)."""
    vol = docker.Volume("pgdata")
    docker.Container(
        "postgres",
        image="postgres:16",
        mounts=[docker.ContainerMountArgs(type="volume", source=vol.name, target="/var/lib/postgresql/data")],
    )


@violation(RULE, resource="reports", exact=True)
def bind_to_plain_directory() -> None:
    """A bind-mounted volume on a directory no LUKS mapping provides."""
    net = internal_network("app-net")
    vol = docker.Volume(
        "reports",
        name="reports",
        driver="local",
        driver_opts={"type": "none", "o": "bind", "device": "/srv/plain/reports"},
    )
    app(net, vol)


@violation(RULE, resource="labelled", exact=True)
def labels_claim_luks() -> None:
    """Labels that claim LUKS prove nothing: the volume still uses the default driver."""
    net = internal_network("app-net")
    vol = docker.Volume(
        "labelled",
        name="labelled",
        labels=[
            docker.VolumeLabelArgs(label="encrypted-platform.luks.mapping", value="ep-data"),
            docker.VolumeLabelArgs(label="encrypted-platform.luks.mount-point", value="/srv/encrypted/data"),
        ],
    )
    app(net, vol)


@violation(RULE, resource="data", exact=True)
def volume_without_dependency_on_luks_command() -> None:
    """The LUKS command is right, but the volume does not wait for it."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("data", depends=False)
    app(net, vol)


@violation(RULE, "luks-parameters", resource="plainvol", exact=True)
def plain_dm_crypt_is_not_luks() -> None:
    """dm-crypt in plain mode: no LUKS header, no KDF."""
    net = internal_network("app-net")
    program = """set -eu
cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --key-file=- /dev/vdc plainvol
mount /dev/mapper/plainvol /srv/plainvol
"""
    _cmd, vol = luks_volume("plainvol", program=program)
    app(net, vol)


@violation(RULE, resource="app", exact=True)
def anonymous_volume() -> None:
    """A mount without a source: Docker creates an anonymous local volume."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(
        net,
        vol,
        mounts=[
            docker.ContainerMountArgs(type="volume", source=vol.name, target="/var/lib/app"),
            docker.ContainerMountArgs(type="volume", target="/var/cache/app"),
        ],
    )


@violation(RULE, resource="app", exact=True)
def undeclared_volume_name() -> None:
    """A volume name no resource of the stack declares (created on first use, default driver)."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol, mounts=[docker.ContainerMountArgs(type="volume", source="uploads", target="/uploads")])


@violation(RULE, resource="app", exact=True)
def legacy_volumes_block_anonymous() -> None:
    """The legacy `volumes` block with only a container path is an anonymous volume."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol, volumes=[docker.ContainerVolumeArgs(container_path="/data")])


@violation(RULE, resource="scratch", exact=True)
def tmpfs_volume() -> None:
    """A local volume of type tmpfs is not on LUKS (and may swap to disk)."""
    net = internal_network("app-net")
    vol = docker.Volume(
        "scratch",
        name="scratch",
        driver="local",
        driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=100m"},
    )
    app(net, vol)


@violation(RULE, resource="worker", exact=True, pack_config=SWARM_DAEMON)
def swarm_service_inline_nfs_volume() -> None:
    """A Swarm service whose volume is created on first use with NFS driver options."""
    net = internal_network("swarm-net", driver="overlay", options={"encrypted": "true"})
    docker.Service(
        "worker",
        name="worker",
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image="ghcr.io/example/worker:1@sha256:" + "cd" * 32,
                mounts=[
                    docker.ServiceTaskSpecContainerSpecMountArgs(
                        type="volume",
                        source="shared",
                        target="/shared",
                        volume_options=docker.ServiceTaskSpecContainerSpecMountVolumeOptionsArgs(
                            driver_name="local",
                            driver_options={
                                "type": "nfs",
                                "o": "addr=10.0.0.5,rw",
                                "device": ":/exports/shared",
                            },
                        ),
                    )
                ],
                read_only=True,
                healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(tests=["CMD", "true"]),
            ),
            networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=net.name)],
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=1 << 29)
            ),
        ),
    )


@violation(RULE, resource="app", exact=True)
def volumes_from_another_container() -> None:
    """volumes_from shares whatever the other container has: unverifiable."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol, volumes=[docker.ContainerVolumeArgs(from_container="legacy-data")])


@violation(RULE, resource="later", exact=True, variants=("preview",))
def device_unknown_at_preview() -> None:
    """The bind device comes from another resource's output: unknown at preview, fail closed."""
    net = internal_network("app-net")
    cmd, _vol = luks_volume("appdata")
    vol = docker.Volume(
        "later",
        name="later",
        driver="local",
        driver_opts=cmd.id.apply(lambda i: {"type": "none", "o": "bind", "device": f"/srv/appdata/{i}"}),
        opts=pulumi.ResourceOptions(depends_on=[cmd]),
    )
    app(net, vol, name="app2")


@violation(RULE, resource="insecure", exact=True)
def command_mounts_elsewhere() -> None:
    """The LUKS mapping is mounted at /srv/secure, the volume binds /srv/insecure."""
    net = internal_network("app-net")
    cmd = command.local.Command(
        "luks",
        create=luks_program("/dev/vdb", "secure", "/srv/secure"),
        stdin=pulumi.Output.secret("correct horse battery staple"),
    )
    vol = docker.Volume(
        "insecure",
        name="insecure",
        driver="local",
        driver_opts={"type": "none", "o": "bind", "device": "/srv/insecure/data"},
        opts=pulumi.ResourceOptions(depends_on=[cmd]),
    )
    docker.Container(
        "worker",
        **hardened(
            name="worker",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            mounts=[docker.ContainerMountArgs(type="volume", source=vol.name, target="/data")],
        ),
    )
