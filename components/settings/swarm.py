"""Docker Swarm mode for platforms that outgrow one machine: config key `swarm`.

The same services become Swarm services on several Docker hosts (nodes). Their link, ingress and
egress networks become overlay networks with `encrypted` (IPsec ESP between nodes) and, for links,
`internal`. Stateful services are pinned to the node that holds their EncryptedVolume; secrets are
Swarm secrets. The edge stays a plain container on `edgeNode` (ports published in host mode there,
never through the routing mesh, whose `ingress` overlay is not encrypted).

The swarm itself is formed by the operator (docs/swarm.md): `docker swarm init` on the manager,
`docker swarm join` on each worker. The program checks each node's engine before it creates
anything there.

Example:

    encrypted-platform:swarm:
      enabled: true
      manager: node-a
      edgeNode: node-a
      nodes:
        node-a: {host: {mode: ssh, address: 10.0.0.11, hostKey: "ssh-ed25519 AAAA...", user: deploy,
                 become: true}, engineVersion: 20.10.24}
        node-b: {host: {mode: ssh, address: 10.0.0.12, hostKey: "ssh-ed25519 AAAA...", user: deploy,
                 become: true}, engineVersion: 24.0.7}
      volumeNodes: {app-db: node-b, vector-store: node-b, documents: node-a, logs: node-a}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Flag, Model, ResourceName
from .grammar import grammar
from .host import HostSettings
from .keys import KeyProblem
from .paths import HostPath

# Encrypted overlay networks silently stayed unencrypted on engines before 20.10.24 (and 23.0.0 to
# 23.0.3): CVE-2023-28840. 20.10.24 and 23.0.4 fixed it.
MIN_ENCRYPTED_OVERLAY_ENGINE = (20, 10, 24)
BROKEN_ENCRYPTED_OVERLAY_RANGES = (((23, 0, 0), (23, 0, 4)),)

# What nodes need between them (documented in docs/swarm.md, checked nowhere else):
SWARM_PORTS = (
    ("2377/tcp", "cluster management (to managers)"),
    ("7946/tcp+udp", "node discovery and gossip"),
    ("4789/udp", "VXLAN data path (overlay traffic, inside ESP when encrypted)"),
    ("IP protocol 50 (ESP)", "IPsec for encrypted overlays"),
)
SWARM_KERNEL_MODULES = ("vxlan", "esp4", "xfrm_user", "xfrm_algo", "xt_u32 (or xt_bpf)", "br_netfilter")

_VERSION = grammar(
    "engine version",
    r"([0-9]{1,4})\.([0-9]{1,4})\.([0-9]{1,6})(?:[-+~][0-9A-Za-z.+~-]{0,64})?",
    "20.10.24+dfsg1",
)
_NODE_HOSTNAME = grammar("node host name", r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", "node-a")


def parse_engine_version(value: str) -> tuple[int, int, int]:
    """'20.10.24+dfsg1' -> (20, 10, 24)."""
    match = _VERSION.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"must be a Docker engine version such as '20.10.24' or '24.0.7', got {value!r}")
    major, minor, patch = (int(match.group(i)) for i in (1, 2, 3))
    return major, minor, patch


def encrypted_overlay_problem(version: tuple[int, int, int]) -> str | None:
    shown = ".".join(map(str, version))
    if version < MIN_ENCRYPTED_OVERLAY_ENGINE:
        return (
            f"engine {shown} is older than 20.10.24: its encrypted overlay networks silently sent "
            "traffic unencrypted (CVE-2023-28840); upgrade the engine"
        )
    for low, high in BROKEN_ENCRYPTED_OVERLAY_RANGES:
        if low <= version < high:
            return (
                f"engine {shown} is affected by CVE-2023-28840 (encrypted overlays silently "
                "unencrypted, fixed in 23.0.4); upgrade the engine"
            )
    return None


class SwarmNodeSettings(Model):
    """One entry of `swarm.nodes`."""

    host: HostSettings = Field(default_factory=HostSettings, description="How to reach the node.")
    hostname: str | None = Field(
        None, description="The node's hostname as Swarm knows it (placement); defaults to the node key."
    )
    role: Literal["manager", "worker"] = Field("worker", description="Swarm role of the node.")
    engine_version: str = Field(
        description="Docker engine version on the node ('docker version -f {{.Server.Version}}'). "
        "Checked at preview against CVE-2023-28840 and again on the node before anything is created."
    )
    daemon_config: HostPath = Field(
        "/etc/docker/daemon.json",
        description='The engine\'s daemon.json on the node; it must set "no-new-privileges": true '
        "(checked by the node preflight).",
    )

    @field_validator("engine_version")
    @classmethod
    def _version(cls, value: str) -> str:
        parse_engine_version(value)
        return value

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not _NODE_HOSTNAME.matches(value):
            raise ValueError(f"must be a host name, got {value!r}")
        return value


class SwarmSettings(Model):
    """Config key `swarm`."""

    enabled: Flag = Field(False, description="Run the services as Swarm services on swarm.nodes.")
    manager: ResourceName | None = Field(None, description="The manager node the program deploys through.")
    edge_node: ResourceName | None = Field(
        None, description="Node that runs the edge (ports published there in host mode); default: manager."
    )
    nodes: dict[ResourceName, SwarmNodeSettings] = Field(default_factory=dict, description="Swarm nodes.")
    encrypt_overlays: Flag = Field(
        True, description="IPsec-encrypt every overlay network (required with more than one node)."
    )
    volume_nodes: dict[ResourceName, ResourceName] = Field(
        default_factory=dict,
        description="Node that holds each EncryptedVolume (default: the manager). Services using "
        "a volume are pinned to its node.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SwarmSettings:
        if not self.enabled:
            return self
        if not self.nodes:
            raise KeyProblem("nodes", "required when swarm is enabled")
        if self.manager is None:
            raise KeyProblem("manager", "required when swarm is enabled")
        if self.manager not in self.nodes:
            raise KeyProblem("manager", f"unknown node {self.manager!r}")
        if self.nodes[self.manager].role != "manager":
            raise KeyProblem(("nodes", self.manager, "role"), "the manager node must have role 'manager'")
        if self.edge_node is not None and self.edge_node not in self.nodes:
            raise KeyProblem("edgeNode", f"unknown node {self.edge_node!r}")
        if len(self.nodes) > 1 and not self.encrypt_overlays:
            raise KeyProblem(
                "encryptOverlays", "must be true with more than one node (inter-host traffic is encrypted)"
            )
        for volume, holder in self.volume_nodes.items():
            if holder not in self.nodes:
                raise KeyProblem(("volumeNodes", volume), f"unknown node {holder!r}")
        hostnames: dict[str, str] = {}
        for name, node in self.nodes.items():
            hostname = node.hostname or name
            if hostname in hostnames:
                raise KeyProblem(("nodes", name, "hostname"), f"same as node {hostnames[hostname]!r}")
            hostnames[hostname] = name
            if self.encrypt_overlays:
                problem = encrypted_overlay_problem(parse_engine_version(node.engine_version))
                if problem:
                    raise KeyProblem(("nodes", name, "engineVersion"), problem)
        return self

    def hostname(self, node: str) -> str:
        return self.nodes[node].hostname or node

    def node_of_volume(self, volume: str) -> str:
        assert self.manager is not None
        return self.volume_nodes.get(volume, self.manager)

    @property
    def edge(self) -> str:
        assert self.manager is not None
        return self.edge_node or self.manager
