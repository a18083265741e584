"""Where the platform runs: the local Docker host, or one reached over SSH."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Flag, Integer, Model
from .grammar import grammar
from .keys import KeyProblem
from .paths import HostPath

_HOSTNAME = grammar(
    "host name",
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
    "docker-1.example.org",
)
# The key goes into a known_hosts line: one line, printable, the comment included.
_HOST_KEY = grammar(
    "ssh host key",
    r"(?:ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}(?: [\x21-\x7e][\x20-\x7e]*)?",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6b0ETJTxVgcNvE2Sw4V1bXbvo8VkD2q0m9bVvT0m3a",
)
_USER = grammar("posix user", r"[a-z_][a-z0-9_-]{0,31}", "deploy")


class HostSettings(Model):
    """Config key `host`."""

    mode: Literal["local", "ssh"] = Field(
        "local", description="'local': this machine's Docker engine; 'ssh': a remote host over SSH."
    )
    address: str | None = Field(None, description="IP address or DNS name of the remote host (ssh mode).")
    port: Integer = Field(22, ge=1, le=65535, description="SSH port (ssh mode).")
    user: str = Field("root", description="SSH user (ssh mode).")
    host_key: str | None = Field(
        None,
        description="The host's SSH public key ('ssh-ed25519 AAAA...'); pins the server identity. "
        "Required in ssh mode.",
    )
    become: Flag = Field(False, description="Run host commands through 'sudo -n' (for a non-root user).")
    docker_socket: HostPath = Field("/var/run/docker.sock", description="Docker engine socket on the host.")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            pass
        else:
            if getattr(address, "scope_id", None):
                raise ValueError(f"must be an IP address without a %scope, got {value!r}")
            return value
        if not _HOSTNAME.matches(value):
            raise ValueError(f"must be an IP address or a DNS name, got {value!r}")
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not _USER.matches(value):
            raise ValueError(f"must be a POSIX user name, got {value!r}")
        return value

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        if value is not None and not _HOST_KEY.matches(value):
            raise ValueError(
                "must be one SSH public key line such as 'ssh-ed25519 AAAA...' (no line break, no "
                "leading or trailing space)"
            )
        return value

    @model_validator(mode="after")
    def _ssh_needs_address(self) -> HostSettings:
        if self.mode == "ssh":
            if not self.address:
                raise KeyProblem("address", "required when mode is 'ssh'")
            if not self.host_key:
                raise KeyProblem(
                    "hostKey",
                    "required when mode is 'ssh' (pin the server's SSH host key, e.g. the "
                    "output of `ssh-keyscan -t ed25519 HOST` without the host name)",
                )
        return self
