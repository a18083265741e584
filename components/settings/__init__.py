"""All stack configuration, parsed and validated in one place.

`load_settings` reads every config key of the project namespace, validates it with the pydantic
models below and raises `SettingsError` (a clean Pulumi error, no stack trace) naming each bad key
as `pulumi config set --path` spells it, before any resource is registered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pydantic import Field, ValidationError, field_validator

from .base import Model, ResourceName
from .edge import EdgeSettings, tls_key_problems
from .firewall import FirewallSettings
from .host import HostSettings
from .services import RuntimeSettings, ServiceSettings, edge_problems, merge_services, service_problems
from .storage import EncryptionSettings, VolumeSettings, default_volumes
from .swarm import SwarmSettings, swarm_problems

PROJECT = "encrypted-platform"

# Secret config keys: read only as pulumi secrets, never into the (plain) settings model.
SECRET_KEYS = {
    "sshPrivateKey": "Private key (PEM/OpenSSH) for the SSH user of host.mode=ssh.",
    "edgeTlsPrivateKey": "PEM private key of the leaf in edge.certificates.chain (edge.certificates.mode=custom).",
}


class StackSettings(Model):
    environment: Literal["dev", "staging", "prod"] = Field(
        "dev", description="Kind of stack; 'prod' enables the strictest checks."
    )
    host: HostSettings = Field(default_factory=HostSettings, description="The Docker host.")
    encryption: EncryptionSettings = Field(
        default_factory=EncryptionSettings, description="Defaults for every LUKS volume."
    )
    volumes: dict[ResourceName, VolumeSettings] = Field(
        default_factory=default_volumes,
        description="Encrypted data volumes by name (one per data class).",
    )
    edge: EdgeSettings = Field(default_factory=EdgeSettings, description="Traefik edge and TLS.")
    services: dict[ResourceName, ServiceSettings] = Field(
        default_factory=dict,
        description="Platform services by name. A built-in service (app-db, vector-store, ingestion, "
        "llm-gateway, webapp, observability) is enabled by naming it; its entry merges over the "
        "built-in definition (components/settings/services.py).",
    )
    runtime: RuntimeSettings = Field(
        default_factory=RuntimeSettings, description="How services run: secrets volume, CA bundle, logs."
    )
    swarm: SwarmSettings = Field(
        default_factory=SwarmSettings, description="Docker Swarm mode (several hosts)."
    )
    firewall: FirewallSettings = Field(
        default_factory=FirewallSettings,
        description="Host firewall: containers may not reach the host itself.",
    )

    @field_validator("services", mode="before")
    @classmethod
    def _merge_services(cls, value: Any) -> Any:
        return merge_services(value)

    @field_validator("volumes")
    @classmethod
    def _distinct_devices(cls, volumes: dict[str, VolumeSettings]) -> dict[str, VolumeSettings]:
        seen: dict[str, str] = {}
        for name, volume in volumes.items():
            if volume.device:
                if volume.device in seen:
                    raise ValueError(
                        f"{name}.device: {volume.device} is already used by volume {seen[volume.device]!r}"
                    )
                seen[volume.device] = name
        return volumes


@dataclass(frozen=True)
class StackSecrets:
    ssh_private_key: pulumi.Output[str] | None = None
    edge_tls_private_key: pulumi.Output[str] | None = None


class SettingsError(pulumi.RunError):
    """Invalid stack configuration. The message names every bad key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid stack configuration:\n  " + "\n  ".join(problems))


def _decode(value: str) -> Any:
    text = value.strip()
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return value
    return value


def _format_error(error: Any) -> str:
    loc = [str(part) for part in error["loc"] if part != "[key]"]
    message: str = error["msg"]
    # Model validators report "field: text" for the field they blame.
    prefix, sep, rest = message.partition(": ")
    if message.startswith("Value error, "):
        prefix, sep, rest = message[len("Value error, ") :].partition(": ")
        message = message[len("Value error, ") :]
    if sep and prefix and " " not in prefix:
        loc.append(prefix)
        message = rest
    key = f"{PROJECT}:{'.'.join(loc)}" if loc else PROJECT
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) or got is None or "got " in message else f" (got {got!r})"
    return f"{key}: {message}{shown}"


def parse_settings(raw: Mapping[str, Any]) -> StackSettings:
    """Validates already-decoded config values (keys as in Pulumi config, without namespace)."""
    try:
        settings = StackSettings.model_validate(dict(raw))
    except ValidationError as exc:
        raise SettingsError([_format_error(e) for e in exc.errors()]) from None
    # Facts that span several keys (a service's volumes exist, links point at services...).
    problems = service_problems(
        settings.services, settings.volumes, settings.runtime, environment=settings.environment
    )
    problems += edge_problems(settings.edge, settings.services, settings.volumes, settings.runtime)
    edge_volumes = (
        (settings.runtime.secrets_volume, settings.runtime.logs_volume) if settings.edge.routes else ()
    )
    problems += swarm_problems(settings.swarm, settings.services, settings.volumes, edge_volumes=edge_volumes)
    if problems:
        raise SettingsError([f"{PROJECT}:{problem}" for problem in problems])
    return settings


def load_settings(get: Callable[[str], str | None] | None = None) -> StackSettings:
    """Reads the project's (non-secret) config keys and validates them.

    `get` defaults to `pulumi.Config(PROJECT).get`.
    """
    if get is None:
        get = pulumi.Config(PROJECT).get
    raw: dict[str, Any] = {}
    for field in StackSettings.model_fields.values():
        assert field.alias is not None
        value = get(field.alias)
        if value is not None:
            raw[field.alias] = _decode(value)
    return parse_settings(raw)


def load_secrets(settings: StackSettings) -> StackSecrets:
    config = pulumi.Config(PROJECT)
    key = config.get_secret("sshPrivateKey")
    if settings.host.mode == "ssh" and key is None:
        raise SettingsError(
            [
                f"{PROJECT}:sshPrivateKey: required when host.mode is 'ssh' "
                "(pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519)"
            ]
        )
    # Read as plain text only to validate it against edge.certificates.chain at preview; it leaves
    # this function as a secret Output and is never logged.
    edge_key = config.get("edgeTlsPrivateKey")
    problems = [f"{PROJECT}:edgeTlsPrivateKey: {p}" for p in tls_key_problems(settings.edge, edge_key)]
    if problems:
        raise SettingsError(problems)
    edge_secret = (
        pulumi.Output.secret(edge_key) if edge_key and settings.edge.certificates.mode == "custom" else None
    )
    return StackSecrets(ssh_private_key=key, edge_tls_private_key=edge_secret)


__all__ = [
    "PROJECT",
    "SECRET_KEYS",
    "EdgeSettings",
    "EncryptionSettings",
    "HostSettings",
    "Model",
    "RuntimeSettings",
    "ServiceSettings",
    "SettingsError",
    "StackSecrets",
    "StackSettings",
    "SwarmSettings",
    "VolumeSettings",
    "load_secrets",
    "load_settings",
    "parse_settings",
]
