"""The audit's vocabulary: what the stack should enforce (Expected, from its settings and outputs)
and one judged control (Control). Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "warn", "skip"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "warn", "skip")
Concern = Literal["at-rest", "in-transit", "isolation", "drift"]
CONCERNS: tuple[Concern, ...] = ("at-rest", "in-transit", "isolation", "drift")

# The promises of the concept (docs/concept.md, the seed's sections) a control maps to.
PROMISES: dict[str, str] = {
    "luks-volumes": "All platform data is stored within Docker volumes encrypted with LUKS",
    "aes-256-xts": "AES-256 encryption in XTS mode for the entire volume",
    "key-management": "Key management independent of the data (rotation without re-encryption)",
    "physical-access": "Data remains encrypted when the system is powered off or volumes are detached",
    "not-protected-running": "Not protected: a running host with mounted volumes (swap, Docker's root, tmpfs)",
    "tls-versions": "TLS 1.2 and TLS 1.3 support for client connections",
    "https-redirect": "Automatic HTTP to HTTPS redirection",
    "certificates": "Let's Encrypt / custom PKI certificates, renewed before expiration",
    "security-headers": "Security-hardened HTTP headers on all responses",
    "websocket": "WSS, Origin validation, session-based authentication before the upgrade",
    "network-isolation": "Container traffic isolated on internal Docker networks",
    "firewall-boundaries": "The Docker host's network stack provides isolation from external access",
}


@dataclass(frozen=True)
class Control:
    id: str
    concern: Concern
    promise: str  # a key of PROMISES
    status: Status
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.concern not in CONCERNS:
            raise ValueError(f"unknown concern {self.concern!r}")
        if self.promise not in PROMISES:
            raise ValueError(f"unknown promise {self.promise!r}")


@dataclass(frozen=True)
class ExpectedVolume:
    name: str
    docker_volume: str
    source: str
    luks_uuid: str
    mapper: str  # the mapper's name (ep-...), not its /dev/mapper path
    key_version: int
    mount_point: str
    data_dir: str
    unlock: str  # crypttab | manual | tang | tpm2
    binding: str | None  # the binding record's hash for tang/tpm2 (config + key version)

    @property
    def mapper_path(self) -> str:
        return f"/dev/mapper/{self.mapper}"


@dataclass(frozen=True)
class ExpectedContainer:
    name: str
    networks: tuple[str, ...]
    published_ports: tuple[int, ...]  # host ports it publishes (only the edge publishes any)


@dataclass(frozen=True)
class ExpectedRoute:
    name: str
    host: str
    path: str
    websocket: bool


@dataclass(frozen=True)
class ExpectedEdge:
    routes: tuple[ExpectedRoute, ...]
    http_port: int
    https_port: int
    min_tls_version: str  # "1.2" | "1.3"
    tls12_cipher_suites: tuple[str, ...]  # IANA names the profile allows (empty for TLS 1.3 only)
    headers: dict[str, str]  # exact values every response carries
    headers_absent: tuple[str, ...]  # banners the edge removes
    certificate_mode: str
    staples_ocsp: bool  # the edge staples OCSP for certificates that name a responder
    websocket_origins: tuple[str, ...] = ()  # the Origins a WebSocket upgrade is allowed from

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(sorted({route.host for route in self.routes}))


@dataclass(frozen=True)
class Expected:
    stack: str
    cipher: str
    key_size_bits: int
    pbkdf: str
    pbkdf_memory_kib: int | None
    pbkdf_iterations: int | None
    pbkdf_parallel: int | None
    keys_dir: str
    header_backup_dir: str
    volumes: tuple[ExpectedVolume, ...]
    containers: tuple[ExpectedContainer, ...]
    networks: tuple[str, ...]
    edge: ExpectedEdge | None
    internal_networks: tuple[str, ...] = ()  # networks with no route out (role internal)
    # Certificate expiry thresholds in days: below warn, a renewal is late; below fail, it failed.
    expiry_warn_days: int = 30
    expiry_fail_days: int = 14
