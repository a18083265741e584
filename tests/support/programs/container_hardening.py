"""Rule container-hardening: privileges, host namespaces, capabilities, no-new-privileges."""

from __future__ import annotations

from typing import Any

import pulumi_docker as docker

from . import violation
from .baseline import app, internal_network, luks_volume

RULE = "container-hardening"


def _app(**overrides: Any) -> None:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol, **overrides)


@violation(RULE, resource="app", exact=True)
def privileged() -> None:
    """privileged: true."""
    _app(privileged=True)


@violation(RULE, "network-isolation", resource="app", exact=True)
def host_network() -> None:
    """network_mode host: the host's network namespace (and not an internal network)."""
    _app(network_mode="host", networks_advanced=[])


@violation(RULE, resource="app", exact=True)
def host_pid_and_ipc() -> None:
    """The host's PID and IPC namespaces."""
    _app(pid_mode="host", ipc_mode="host")


@violation(RULE, resource="app", exact=True)
def host_userns() -> None:
    """userns_mode host disables user-namespace remapping."""
    _app(userns_mode="host")


@violation(RULE, resource="app", exact=True)
def sys_admin_capability() -> None:
    """cap_add SYS_ADMIN (and CAP_NET_ADMIN spelled with the prefix)."""
    _app(capabilities=docker.ContainerCapabilitiesArgs(adds=["SYS_ADMIN", "CAP_NET_ADMIN"], drops=["ALL"]))


@violation(RULE, resource="app", exact=True)
def no_new_privileges_missing() -> None:
    """security_opts forgotten."""
    _app(security_opts=[])


@violation(RULE, resource="app", exact=True)
def seccomp_unconfined() -> None:
    """seccomp switched off (and no-new-privileges explicitly false)."""
    _app(security_opts=["no-new-privileges:false", "seccomp=unconfined"])


@violation(RULE, resource="batch", exact=True)
def swarm_service_cap_add_and_no_daemon_default() -> None:
    """A Swarm service adding NET_ADMIN, on nodes whose daemon default is not declared."""
    net = internal_network("swarm-net", driver="overlay", options={"encrypted": "true"})
    docker.Service(
        "batch",
        name="batch",
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image="ghcr.io/example/batch:1@sha256:" + "9a" * 32,
                cap_adds=["NET_ADMIN"],
                read_only=True,
                healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(tests=["CMD", "true"]),
            ),
            networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=net.name)],
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=1 << 28)
            ),
        ),
    )


@violation(RULE, "no-host-paths", "encrypted-volumes", "network-isolation", resource="toolbox")
def careless_debug_container() -> None:
    """Everything at once, as a quick debugging container would be written."""
    docker.Container(
        "toolbox",
        image="ubuntu:24.04",
        privileged=True,
        network_mode="host",
        pid_mode="host",
        volumes=[
            docker.ContainerVolumeArgs(host_path="/", container_path="/host"),
            docker.ContainerVolumeArgs(container_path="/scratch"),
        ],
    )
