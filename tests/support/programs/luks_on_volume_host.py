"""Rule luks-on-volume-host: the LUKS mount is made on another machine than the volume."""

from __future__ import annotations

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_random as random

from . import violation
from .baseline import hardened, luks_program

RULE = "luks-on-volume-host"


def _remote_platform(luks: command.local.Command | command.remote.Command, provider: docker.Provider) -> None:
    on_host = pulumi.ResourceOptions(provider=provider)
    vol = docker.Volume(
        "appdata",
        name="appdata",
        driver="local",
        driver_opts={"type": "none", "o": "bind", "device": "/srv/appdata/data"},
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[luks]),
    )
    net = docker.Network(
        "app-net",
        name="app-net",
        internal=True,
        labels=[docker.NetworkLabelArgs(label="encrypted-platform.network.role", value="internal")],
        opts=on_host,
    )
    docker.Container(
        "app",
        **hardened(
            name="app",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            mounts=[docker.ContainerMountArgs(type="volume", source=vol.name, target="/var/lib/app")],
        ),
        opts=on_host,
    )


@violation(RULE, resource="appdata", exact=True)
def local_luks_beside_ssh_docker() -> None:
    """command.local LUKS program (the operator's laptop) beside a docker provider on ssh://."""
    key = random.RandomPassword("appdata-key", length=48, special=False)
    secret_key: pulumi.Output[str] = pulumi.Output.secret(key.result)
    luks = command.local.Command(
        "appdata-luks",
        create=luks_program("/dev/vdb", "appdata", "/srv/appdata"),
        stdin=secret_key,
    )
    _remote_platform(luks, docker.Provider("server", host="ssh://deploy@203.0.113.10:22"))


@violation(RULE, resource="appdata", exact=True)
def remote_luks_on_another_server() -> None:
    """The LUKS command runs on one server, the docker provider talks to another."""
    key = random.RandomPassword("appdata-key", length=48, special=False)
    secret_key: pulumi.Output[str] = pulumi.Output.secret(key.result)
    luks = command.remote.Command(
        "appdata-luks",
        connection=command.remote.ConnectionArgs(host="203.0.113.11", user="deploy"),
        create=luks_program("/dev/vdb", "appdata", "/srv/appdata"),
        stdin=secret_key,
    )
    _remote_platform(luks, docker.Provider("server", host="ssh://deploy@203.0.113.10"))
