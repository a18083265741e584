"""Rule no-host-paths: bind mounts, the Docker socket, host devices."""

from __future__ import annotations

import pulumi_docker as docker

from . import SWARM_DAEMON, violation
from .baseline import app, hardened, internal_network, luks_volume

RULE = "no-host-paths"


@violation(RULE, resource="watchtower")
def docker_socket() -> None:
    """A convenience container that wants the Docker socket."""
    docker.Container(
        "watchtower",
        image="containrrr/watchtower:1.7.1",
        mounts=[
            docker.ContainerMountArgs(
                type="bind", source="/var/run/docker.sock", target="/var/run/docker.sock"
            )
        ],
    )


@violation(RULE, resource="app", exact=True)
def docker_socket_read_only_still_forbidden() -> None:
    """Read-only does not make the socket safe."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(
        net,
        vol,
        volumes=[
            docker.ContainerVolumeArgs(
                host_path="/run/docker.sock", container_path="/var/run/docker.sock", read_only=True
            )
        ],
    )


@violation(RULE, resource="app", exact=True)
def home_directory_bind() -> None:
    """Developer data bound straight from the host."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(
        net,
        vol,
        mounts=[
            docker.ContainerMountArgs(type="volume", source=vol.name, target="/var/lib/app"),
            docker.ContainerMountArgs(type="bind", source="/home/alice/datasets", target="/datasets"),
        ],
    )


@violation(RULE, resource="app", exact=True)
def allow_listed_file_writable() -> None:
    """The CA bundle is allow-listed, but only read-only."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(
        net,
        vol,
        mounts=[
            docker.ContainerMountArgs(type="volume", source=vol.name, target="/var/lib/app"),
            docker.ContainerMountArgs(
                type="bind",
                source="/etc/ssl/certs/ca-certificates.crt",
                target="/etc/ssl/certs/ca-certificates.crt",
            ),
        ],
    )


@violation(RULE, resource="indexer", exact=True, pack_config=SWARM_DAEMON)
def swarm_service_binds_etc() -> None:
    """A Swarm service with a bind mount of /etc."""
    net = internal_network("swarm-net", driver="overlay", options={"encrypted": "true"})
    docker.Service(
        "indexer",
        name="indexer",
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image="ghcr.io/example/indexer:2@sha256:" + "ef" * 32,
                mounts=[
                    docker.ServiceTaskSpecContainerSpecMountArgs(
                        type="bind", source="/etc", target="/host-etc", read_only=True
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


@violation(RULE, resource="gpu-worker", exact=True)
def host_device() -> None:
    """A raw host disk handed to a container."""
    net = internal_network("app-net")
    docker.Container(
        "gpu-worker",
        **hardened(
            name="gpu-worker",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            devices=[docker.ContainerDeviceArgs(host_path="/dev/sdb", container_path="/dev/sdb")],
        ),
    )
