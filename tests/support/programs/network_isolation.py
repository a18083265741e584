"""Rule network-isolation: non-internal networks, unencrypted overlays, lying labels."""

from __future__ import annotations

import pulumi_docker as docker

from . import violation
from .baseline import app, boundary_network, edge, hardened, internal_network, luks_volume

RULE = "network-isolation"


@violation(RULE, resource="worker", exact=True)
def default_bridge() -> None:
    """No network given: Docker's default bridge, with a route to the internet."""
    docker.Container("worker", **hardened(name="worker"))


@violation(RULE, resource="mesh", exact=True)
def overlay_not_encrypted() -> None:
    """A Swarm overlay without the encrypted option."""
    internal_network("mesh", driver="overlay")


@violation(RULE, resource="mesh-open", exact=True)
def overlay_not_internal() -> None:
    """A Swarm overlay that is not internal."""
    docker.Network(
        "mesh-open",
        name="mesh-open",
        driver="overlay",
        options={"encrypted": "true"},
        labels=[docker.NetworkLabelArgs(label="encrypted-platform.network.role", value="egress")],
    )


@violation(RULE, resource="app", exact=True)
def service_on_non_internal_network() -> None:
    """A plain service joins a user-defined bridge that is not internal."""
    _cmd, vol = luks_volume("appdata")
    frontend = docker.Network("frontend", name="frontend")
    app(frontend, vol)


@violation(RULE, resource="llm-gateway", exact=True)
def egress_service_on_ingress_network() -> None:
    """A declared egress service on the ingress network instead of the egress one."""
    net = internal_network("app-net")
    ingress = boundary_network("public", "ingress")
    docker.Container(
        "llm-gateway",
        **hardened(
            name="llm-gateway",
            labels=[
                docker.ContainerLabelArgs(label="encrypted-platform.role", value="service"),
                docker.ContainerLabelArgs(label="encrypted-platform.egress", value="true"),
            ],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=ingress.name),
                docker.ContainerNetworksAdvancedArgs(name=net.name),
            ],
        ),
    )


@violation(
    RULE,
    resource="scraper",
    exact=True,
)
def undeclared_egress_on_egress_network() -> None:
    """A service without the egress declaration joins the egress network."""
    net = internal_network("app-net")
    egress = boundary_network("egress", "egress")
    docker.Container(
        "scraper",
        **hardened(
            name="scraper",
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=egress.name),
                docker.ContainerNetworksAdvancedArgs(name=net.name),
            ],
        ),
    )


@violation(RULE, resource="backend", exact=True)
def network_label_lies() -> None:
    """Labelled internal, but not internal."""
    _cmd, vol = luks_volume("appdata")
    backend = docker.Network(
        "backend",
        name="backend",
        internal=False,
        labels=[docker.NetworkLabelArgs(label="encrypted-platform.network.role", value="internal")],
    )
    app(backend, vol)


@violation(RULE, resource="sidecar", exact=True)
def shares_another_containers_network() -> None:
    """network_mode container:<name> inherits networks the rule cannot see."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol)
    edge(net)
    docker.Container("sidecar", **hardened(name="sidecar", network_mode="container:app"))
