"""The platform's networks: which exist, who is on them, and the components that create them.

Pure part (`plan_networks`): from typed settings to plain `NetworkSpec`s and per-member
attachments. Every caller-callee pair (a `connects` entry, an edge route) gets its own `internal`
network, so a backend is reachable only from the services that declared it and callers of the same
backend cannot reach each other through it. A link network connects both of its ends: Docker
networks do not filter by direction, so on its link a callee can also open connections to its
caller (tests/docker/test_isolation.py checks exactly this reachability). Two networks have a route
out: `ingress` (only the edge, the only container with published ports) and `egress` (only
services with `egress: true`; inter-container traffic is off there).

Docker 20.10 gives containers on internal networks a default route all the same; what keeps them
in is dockerd's DOCKER-ISOLATION iptables rules. An engine run with `--iptables=false` (or rules
flushed by hand) has no isolation at all.

Imperative shell (`InternalNetwork`, `BoundaryNetwork`): one docker.Network each, labelled with
its role (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_docker as docker

from components.settings import StackSettings
from components.settings.keys import NAME_PREFIX

ROLE_LABEL = f"{NAME_PREFIX}.network.role"
LINK_LABEL = f"{NAME_PREFIX}.network.link"
EDGE = "edge"  # the edge's member name in network plans (a service may not take it)
INGRESS = "ingress"  # the ingress network's key in network plans

INGRESS_NETWORK = f"{NAME_PREFIX}-ingress"
EGRESS_NETWORK = f"{NAME_PREFIX}-egress"

# Members of the ingress and egress networks never need to talk to each other, only out (or in
# through the published ports): inter-container traffic is switched off on those bridges.
NO_ICC = ("com.docker.network.bridge.enable_icc", "false")
# Docker's IPsec switch for overlay networks (its presence turns encryption on).
OVERLAY_ENCRYPTED = ("encrypted", "true")

NetworkRole = Literal["ingress", "internal", "egress"]


LINK_PREFIX = "ep-link--"


def link_network_name(caller: str, callee: str) -> str:
    """'ep-link--<caller>--<callee>': unambiguous (service names never contain '--') and a valid
    DNS label of at most 59 characters, as Swarm requires of overlay network names."""
    return f"{LINK_PREFIX}{caller}--{callee}"


@dataclass(frozen=True)
class NetworkSpec:
    key: str  # Pulumi resource name
    name: str  # Docker network name (explicit, so it is known at preview)
    role: NetworkRole
    members: tuple[str, ...]
    driver: Literal["bridge", "overlay"] = "bridge"
    encrypted: bool = False  # overlay only: IPsec between nodes
    attachable: bool = False  # overlay only: plain containers (the edge) may join
    link: tuple[str, str] | None = None  # (caller, callee) of an internal link network

    @property
    def internal(self) -> bool:
        return self.role == "internal"

    @property
    def options(self) -> dict[str, str]:
        options: dict[str, str] = {}
        if self.driver == "bridge" and self.role != "internal":
            options[NO_ICC[0]] = NO_ICC[1]
        if self.driver == "overlay" and self.encrypted:
            options[OVERLAY_ENCRYPTED[0]] = OVERLAY_ENCRYPTED[1]
        return options

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = {ROLE_LABEL: self.role}
        if self.link:
            labels[LINK_LABEL] = f"{self.link[0]}->{self.link[1]}"
        return labels


@dataclass(frozen=True)
class Attachment:
    """One network of one member; `aliases` are the DNS names it answers to there."""

    network: str  # NetworkSpec.key
    name: str  # Docker network name
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkPlan:
    networks: tuple[NetworkSpec, ...]
    attachments: Mapping[str, tuple[Attachment, ...]] = field(default_factory=dict)

    def of(self, member: str) -> tuple[Attachment, ...]:
        return self.attachments.get(member, ())

    def by_key(self) -> dict[str, NetworkSpec]:
        return {n.key: n for n in self.networks}


def edge_targets(settings: StackSettings) -> list[str]:
    """Services the edge forwards to: every route's service and the WebSocket session check."""
    targets = [route.service for route in settings.edge.routes.values()]
    auth = getattr(settings.edge.websocket, "auth", None)
    if auth is not None:
        targets.append(auth.service)
    return sorted(set(targets))


def links(settings: StackSettings) -> list[tuple[str, str]]:
    """(caller, callee) pairs: each enabled service's `connects`, then edge -> routed services."""
    pairs = [
        (name, callee)
        for name, service in sorted(settings.services.items())
        if service.enabled
        for callee in service.connects
    ]
    pairs += [(EDGE, target) for target in edge_targets(settings)]
    return pairs


def plan_networks(settings: StackSettings, *, swarm: bool = False) -> NetworkPlan:
    """All networks of the stack and each member's attachments, in a stable order."""
    driver: Literal["bridge", "overlay"] = "overlay" if swarm else "bridge"
    encrypted = swarm and settings.swarm.encrypt_overlays
    attachments: dict[str, list[Attachment]] = {}
    networks: list[NetworkSpec] = []

    def attach(member: str, attachment: Attachment) -> None:
        attachments.setdefault(member, []).append(attachment)

    # The edge exists when something is routed. Its ingress network stays a local bridge on the
    # edge's host in both modes: the edge is a plain container there, and the Swarm routing mesh
    # (an unencrypted overlay) is never used.
    if edge_targets(settings):
        ingress = NetworkSpec(key=INGRESS, name=INGRESS_NETWORK, role="ingress", members=(EDGE,))
        networks.append(ingress)
        attach(EDGE, Attachment(ingress.key, ingress.name))

    egress_members = tuple(name for name, s in sorted(settings.services.items()) if s.enabled and s.egress)
    if egress_members:
        egress = NetworkSpec(
            key="egress",
            name=EGRESS_NETWORK,
            role="egress",
            members=egress_members,
            driver=driver,
            encrypted=encrypted,
        )
        networks.append(egress)
        for member in egress_members:
            attach(member, Attachment(egress.key, egress.name))

    for caller, callee in links(settings):
        spec = NetworkSpec(
            key=f"link-{caller}.{callee}",
            name=link_network_name(caller, callee),
            role="internal",
            members=(caller, callee),
            driver=driver,
            encrypted=encrypted,
            # In swarm mode the edge is a plain container: it can join an overlay only if the
            # overlay is attachable. Service-to-service overlays stay closed to plain containers.
            attachable=swarm and caller == EDGE,
            link=(caller, callee),
        )
        networks.append(spec)
        attach(caller, Attachment(spec.key, spec.name))
        attach(callee, Attachment(spec.key, spec.name, aliases=(callee,)))

    return NetworkPlan(
        networks=tuple(networks),
        attachments={member: tuple(items) for member, items in attachments.items()},
    )


def network_args(spec: NetworkSpec) -> docker.NetworkArgs:
    """The docker.Network arguments of a spec (pure, so tests and the policy pack agree)."""
    return docker.NetworkArgs(
        name=spec.name,
        driver=spec.driver,
        internal=spec.internal,
        labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in spec.labels.items()],
        options=spec.options or None,
        attachable=spec.attachable if spec.driver == "overlay" else None,
    )


class _Network(pulumi.ComponentResource):
    network: docker.Network

    def __init__(
        self,
        type_: str,
        spec: NetworkSpec,
        provider: docker.Provider,
        opts: pulumi.ResourceOptions | None,
        depends_on: Iterable[pulumi.Resource] = (),
    ) -> None:
        super().__init__(type_, spec.key, None, opts)
        self.spec = spec
        self.network = docker.Network(
            spec.key,
            network_args(spec),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(depends_on)),
        )
        self.network_name: pulumi.Output[str] = self.network.name
        self.register_outputs({"name": self.network.name, "role": spec.role, "internal": spec.internal})


class InternalNetwork(_Network):
    """A Docker network with `internal: true` (no route out) between one caller and one callee."""

    def __init__(
        self,
        spec: NetworkSpec,
        provider: docker.Provider,
        opts: pulumi.ResourceOptions | None = None,
        depends_on: Iterable[pulumi.Resource] = (),
    ) -> None:
        if not spec.internal:
            raise ValueError(f"InternalNetwork needs an internal spec, got role {spec.role!r}")
        super().__init__("encrypted-platform:network:InternalNetwork", spec, provider, opts, depends_on)


class BoundaryNetwork(_Network):
    """The ingress network (edge only) or the egress network (declared egress services only):
    the only networks with a route out."""

    def __init__(
        self,
        spec: NetworkSpec,
        provider: docker.Provider,
        opts: pulumi.ResourceOptions | None = None,
        depends_on: Iterable[pulumi.Resource] = (),
    ) -> None:
        if spec.internal:
            raise ValueError("BoundaryNetwork is for the ingress and egress networks")
        super().__init__("encrypted-platform:network:BoundaryNetwork", spec, provider, opts, depends_on)


def make_network(
    spec: NetworkSpec,
    provider: docker.Provider,
    opts: pulumi.ResourceOptions | None = None,
    depends_on: Iterable[pulumi.Resource] = (),
) -> _Network:
    if spec.internal:
        return InternalNetwork(spec, provider, opts, depends_on)
    return BoundaryNetwork(spec, provider, opts, depends_on)
