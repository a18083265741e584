"""Host firewall of the Docker host: config key `firewall`."""

from __future__ import annotations

from pydantic import Field, field_validator

from .base import Flag, Integer, Model
from .grammar import grammar
from .keys import KeyProblem

_IFACE = grammar("interface name", r"[A-Za-z0-9_.-]{1,15}\+?", "br-+")  # IFNAMSIZ: 15 characters


class FirewallSettings(Model):
    """Config key `firewall`: containers may not reach the Docker host's own services."""

    enabled: Flag = Field(
        True, description="Reject traffic from Docker bridges to the host itself (sshd, Docker API...)."
    )
    allow_tcp_ports: list[Integer] = Field(
        default_factory=list,
        description="Host TCP ports containers may still reach (e.g. a metrics agent). Empty by default.",
    )
    interfaces: list[str] = Field(
        default_factory=lambda: ["docker0", "br-+", "docker_gwbridge"],
        description="Host interfaces that lead to containers ('+' is a wildcard suffix).",
    )

    @field_validator("allow_tcp_ports")
    @classmethod
    def _ports(cls, ports: list[int]) -> list[int]:
        for index, port in enumerate(ports):
            if not 1 <= port <= 65535:
                raise KeyProblem(index, f"must be a TCP port 1-65535, got {port}")
        return sorted(set(ports))

    @field_validator("interfaces")
    @classmethod
    def _interfaces(cls, names: list[str]) -> list[str]:
        if not names:
            raise ValueError("at least one interface is needed")
        for index, name in enumerate(names):
            if not _IFACE.matches(name):
                raise KeyProblem(index, f"not an interface name (or prefix ending in '+'): {name!r}")
        return names
