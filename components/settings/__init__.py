"""All stack configuration, parsed and validated in one place.

`load_settings` reads every config key of the project namespace, validates it with the pydantic
models below and raises `SettingsError` (a clean Pulumi error, no stack trace) naming each bad key
as `pulumi config set --path` spells it, before any resource is registered.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, Field, ValidationError, field_validator

from .backups import BackupSettings
from .base import Model, ResourceName
from .checks import stack_problems, tls_key_problems
from .edge import EdgeSettings
from .firewall import FirewallSettings
from .host import HostSettings
from .keys import PROJECT, KeyProblem, PathPart, config_key, did_you_mean
from .services import RuntimeSettings, ServiceSettings, merge_services
from .storage import EncryptionSettings, VolumeSettings, default_volumes
from .swarm import SwarmSettings

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
        "built-in definition (components/settings/catalogue/services.yaml).",
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
    backups: BackupSettings = Field(
        default_factory=BackupSettings,
        description="Encrypted, deduplicated restic backups of the volumes' data, off the host.",
    )

    @field_validator("services", mode="before")
    @classmethod
    def _merge_services(cls, value: Any) -> Any:
        return merge_services(value)


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


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The settings model a (possibly optional) annotation holds, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None


def _known_keys(loc: tuple[PathPart, ...]) -> list[str]:
    """The keys the model at `loc` (a location inside StackSettings) accepts."""
    model: type[BaseModel] | None = StackSettings
    annotation: Any = None
    for part in loc:
        if model is not None:
            field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return []
            annotation, model = field.annotation, _model_in(field.annotation)
            continue
        # Inside a dict or list: the part is a key or an index, the value type comes next.
        arguments = typing.get_args(annotation)
        while typing.get_origin(annotation) in (typing.Union, types.UnionType) and arguments:
            annotation = next(a for a in arguments if a is not type(None))
            arguments = typing.get_args(annotation)
        if not arguments:
            return []
        annotation = arguments[-1]
        model = _model_in(annotation)
    if model is None:
        return []
    keys = [f.alias or n for n, f in model.model_fields.items()]
    return keys + list(SECRET_KEYS) if model is StackSettings else keys


def _format_error(error: Any) -> str:
    loc: tuple[PathPart, ...] = tuple(part for part in error["loc"] if part != "[key]")
    message: str = error["msg"].removeprefix("Value error, ")
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, KeyProblem):
        return f"{config_key(loc + cause.path)}: {cause.message}"
    if error["type"] == "extra_forbidden":
        # Never the value: it may be a secret set under a misspelled key.
        name = str(loc[-1])
        return f"{config_key(loc)}: unknown key{did_you_mean(name, _known_keys(loc[:-1]))}"
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) or got is None or "got " in message else f" (got {got!r})"
    return f"{config_key(loc)}: {message}{shown}"


def parse_settings(raw: Mapping[str, Any], *, stack: str | None = None) -> StackSettings:
    """Validates already-decoded config values (keys as in Pulumi config, without namespace).
    `stack`, the stack's name when known, is named in the instructions of a message
    (`make pin-images STACK=<stack>`)."""
    try:
        settings = StackSettings.model_validate(dict(raw))
    except ValidationError as exc:
        raise SettingsError([_format_error(e) for e in exc.errors()]) from None
    problems = stack_problems(settings, stack=stack)
    if problems:
        raise SettingsError([f"{config_key(path)}: {message}" for path, message in problems])
    return settings


def project_config() -> dict[str, str]:
    """Every key the engine passed in the project's namespace (without it), with its text.

    pulumi.Config has no way to list keys: the language host hands the program the whole config
    as JSON in PULUMI_CONFIG, which the SDK's entry point loads with `set_all_config` (the mock
    runtime and the Automation API set it the same way); both are read here. Values of secret keys
    are left out: unknown keys are reported by name only.
    """
    from pulumi.runtime import config as runtime_config

    names = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{PROJECT}:"
    config = pulumi.Config(PROJECT)
    found: dict[str, str] = {}
    for name in sorted(n for n in names if n.startswith(prefix)):
        key = name[len(prefix) :]
        found[key] = "" if runtime_config.is_config_secret(name) else (config.get(key) or "")
    return found


def load_settings(config: Mapping[str, str] | None = None, *, stack: str | None = None) -> StackSettings:
    """Validates every (non-secret) key of the project's config: `config` maps key (without the
    namespace) to its text, default: what the engine passed (`project_config`), for the stack the
    engine runs (`stack`, default: pulumi.get_stack()). A key that is not a setting is an error,
    not a silently ignored typo."""
    if config is None:
        config = project_config()
        stack = stack or pulumi.get_stack() or None
    raw = {key: _decode(value) for key, value in config.items() if key not in SECRET_KEYS}
    return parse_settings(raw, stack=stack)


def load_secrets(settings: StackSettings) -> StackSecrets:
    config = pulumi.Config(PROJECT)
    key = config.get_secret("sshPrivateKey")
    if settings.host.mode == "ssh" and key is None:
        raise SettingsError(
            [
                f"{config_key(('sshPrivateKey',))}: required when host.mode is 'ssh' "
                "(pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519)"
            ]
        )
    # Read as plain text only to validate it against edge.certificates.chain at preview; it leaves
    # this function as a secret Output and is never logged.
    edge_key = config.get("edgeTlsPrivateKey")
    problems = [
        f"{config_key(('edgeTlsPrivateKey',))}: {p}" for p in tls_key_problems(settings.edge, edge_key)
    ]
    if problems:
        raise SettingsError(problems)
    edge_secret = (
        pulumi.Output.secret(edge_key) if edge_key and settings.edge.certificates.mode == "custom" else None
    )
    return StackSecrets(ssh_private_key=key, edge_tls_private_key=edge_secret)


__all__ = [
    "PROJECT",
    "BackupSettings",
    "config_key",
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
