"""Rule mount-propagation-private: bind mounts that share mount events with the host."""

from __future__ import annotations

import pulumi_docker as docker

from . import SWARM_DAEMON, violation
from .baseline import app, internal_network, luks_volume

RULE = "mount-propagation-private"


@violation(RULE, "no-host-paths", resource="app")
def rshared_bind_mount() -> None:
    """A bind mount with rshared propagation: mounts made in the container appear on the host."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(
        net,
        vol,
        mounts=[
            docker.ContainerMountArgs(type="volume", source=vol.name, target="/var/lib/app"),
            docker.ContainerMountArgs(
                type="bind",
                source="/srv",
                target="/host-srv",
                bind_options=docker.ContainerMountBindOptionsArgs(propagation="rshared"),
            ),
        ],
    )


@violation(RULE, "no-host-paths", resource="watcher", pack_config=SWARM_DAEMON)
def swarm_service_slave_propagation() -> None:
    """A Swarm service that sees everything the host mounts later (rslave)."""
    net = internal_network("swarm-net", driver="overlay", options={"encrypted": "true"})
    docker.Service(
        "watcher",
        name="watcher",
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image="ghcr.io/example/watcher:1@sha256:" + "9b" * 32,
                read_only=True,
                mounts=[
                    docker.ServiceTaskSpecContainerSpecMountArgs(
                        type="bind",
                        source="/srv",
                        target="/host-srv",
                        bind_options=docker.ServiceTaskSpecContainerSpecMountBindOptionsArgs(
                            propagation="rslave"
                        ),
                    )
                ],
            ),
            networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=net.name)],
        ),
    )
