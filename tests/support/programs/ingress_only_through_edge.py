"""Rule ingress-only-through-edge: ports published around the edge."""

from __future__ import annotations

import pulumi_docker as docker

from . import SWARM_DAEMON, violation
from .baseline import app, edge, hardened, internal_network, luks_volume

RULE = "ingress-only-through-edge"


def _platform() -> docker.Network:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol)
    return net


@violation(RULE, resource="app-db", exact=True)
def database_port_published() -> None:
    """ "Just for debugging": the database on 5432."""
    net = _platform()
    edge(net)
    _cmd, vol = luks_volume("pgdata", device="/dev/vdc")
    app(net, vol, name="app-db", ports=[docker.ContainerPortArgs(internal=5432, external=5432)])


@violation(RULE, resource="edge", exact=True)
def edge_publishes_dashboard_port() -> None:
    """The edge also publishes 8080."""
    net = _platform()
    edge(
        net,
        ports=[
            docker.ContainerPortArgs(internal=80, external=80),
            docker.ContainerPortArgs(internal=443, external=443),
            docker.ContainerPortArgs(internal=8080, external=8080),
        ],
    )


@violation(RULE, resource="edge", exact=True)
def edge_random_host_port() -> None:
    """A port without a fixed host port lands on a random one."""
    net = _platform()
    edge(
        net,
        ports=[docker.ContainerPortArgs(internal=443, external=443), docker.ContainerPortArgs(internal=80)],
    )


@violation(RULE, resource="app", exact=True)
def publish_all_ports() -> None:
    """publish_all_ports on a service."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol, publish_all_ports=True)
    edge(net)


@violation(RULE, resource="proxy", exact=True)
def edge_label_on_nginx() -> None:
    """Labelled edge, but it is nginx, not Traefik: the label proves nothing."""
    net = _platform()
    edge(net)
    docker.Container(
        "proxy",
        **hardened(
            role="edge",
            name="proxy",
            image="nginx:1.27@sha256:" + "34" * 32,
            ports=[docker.ContainerPortArgs(internal=443, external=8443)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
        ),
    )


@violation(RULE, resource="api", exact=True, pack_config=SWARM_DAEMON)
def swarm_service_publishes() -> None:
    """A Swarm service publishing through the routing mesh."""
    net = internal_network("swarm-net", driver="overlay", options={"encrypted": "true"})
    _platform()
    docker.Service(
        "api",
        name="api",
        labels=[docker.ServiceLabelArgs(label="encrypted-platform.role", value="service")],
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image="ghcr.io/example/api:1@sha256:" + "56" * 32,
                read_only=True,
                healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(tests=["CMD", "true"]),
            ),
            networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=net.name)],
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=1 << 28)
            ),
        ),
        endpoint_spec=docker.ServiceEndpointSpecArgs(
            ports=[docker.ServiceEndpointSpecPortArgs(target_port=8000, published_port=8000)]
        ),
    )
