"""Rule commands-create-no-workloads: workloads, volumes and exposures made by the CLI inside a
Command, which the pack would otherwise never see."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from . import violation
from .baseline import app, internal_network, luks_volume

RULE = "commands-create-no-workloads"


def _beside_baseline(name: str, create: str) -> None:
    net = internal_network("app-net")
    cmd, vol = luks_volume("appdata")
    app(net, vol)
    command.local.Command(name, create=create, opts=pulumi.ResourceOptions(depends_on=[cmd]))


@violation(RULE, resource="side-db", exact=True)
def docker_run_with_a_host_volume() -> None:
    """`docker run -v` of a database on a plain host directory."""
    _beside_baseline(
        "side-db", "docker run -d --name side-db -v /srv/plain:/var/lib/postgresql/data postgres:16"
    )


@violation(RULE, resource="compose-up", exact=True)
def docker_compose_up() -> None:
    """A compose project brought up by a Command."""
    _beside_baseline("compose-up", "cd /opt/stack && docker compose up -d")


@violation(RULE, resource="relay", exact=True)
def socat_relay() -> None:
    """socat publishes the app on the host without TLS."""
    _beside_baseline("relay", "nohup socat TCP-LISTEN:8080,fork,reuseaddr TCP:172.18.0.5:8080 &")


@violation(RULE, resource="dnat", exact=True)
def iptables_dnat() -> None:
    """A DNAT rule exposes the app's port past the edge."""
    _beside_baseline(
        "dnat", "iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 172.18.0.5:8080"
    )


@violation(RULE, resource="plain-volume", exact=True)
def docker_volume_create_through_sudo_and_a_socket() -> None:
    """`sudo docker -H unix://... volume create`: a volume on the default driver."""
    _beside_baseline("plain-volume", "sudo -n docker -H unix:///var/run/docker.sock volume create plain")


@violation(RULE, resource="nft-dnat", exact=True)
def nft_dnat() -> None:
    """An nftables NAT rule."""
    _beside_baseline("nft-dnat", "nft add rule ip nat prerouting tcp dport 8080 dnat to 172.18.0.5:8080")


@violation(RULE, resource="swarm-svc", exact=True)
def docker_service_create_in_bash_c() -> None:
    """A Swarm service created from inside `bash -c`."""
    _beside_baseline("swarm-svc", "bash -c 'docker service create --name cache --publish 6379:6379 redis:7'")


@violation(RULE, resource="podman-run", exact=True)
def podman_run() -> None:
    """podman is a container CLI too."""
    _beside_baseline("podman-run", "podman run -d -p 9000:9000 minio/minio server /data")


@violation(RULE, resource="wrapped", exact=True)
def docker_run_through_a_wrapper_function() -> None:
    """The docker CLI behind a one-line wrapper function: the call site says what runs."""
    _beside_baseline(
        "wrapped",
        'dk() { sudo -n docker -H unix:///var/run/docker.sock "$@"; }\ndk run -d -v /srv:/srv alpine:3\n',
    )
