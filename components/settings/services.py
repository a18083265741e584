"""The platform's services and how they run: config keys `services` and `runtime`.

A service is a hardened container (or a Swarm service, see `swarm`). Its config says only what
differs between services; every hardening choice is fixed in components/isolation/service.py and is not a
setting (no privileged mode, no host namespaces, no published ports, all capabilities dropped
unless listed, read-only root filesystem, no-new-privileges).

The default platform is the built-in service catalogue, data in catalogue/services.yaml (one
service per data class of the concept), loaded into BUILTIN_SERVICES and validated by
ServiceSettings when this module is imported. A stack enables a built-in service by naming it; its entry is merged over the built-in
definition (nested objects key by key, lists replace), so a stack states only what it changes. Any
other name is a new service (image and port required). Example (Pulumi.<stack>.yaml):

    encrypted-platform:services:
      app-db: {}
      vector-store: {}
      llm-gateway:
        endpoints: [https://api.swiss-llm.example/v1]
      webapp:
        image: ghcr.io/open-webui/open-webui:v0.6.5@sha256:<64 hex>
      reports:                                # a new service
        image: registry.example.org/reports:1.4.2
        port: 8000
        connects: [app-db]
        volumes: {documents: /srv/reports}    # keys of `volumes` (EncryptedVolumes) only
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from platform_rules import image_reference

from . import env_rules
from .base import ByteSize, ContainerUser, Flag, Integer, Model, Number, ResourceName
from .grammar import DURATION, RESOURCE_NAME, UID_GID, grammar
from .keys import KeyProblem, key_path
from .paths import ContainerPath

# Names that belong to the platform's own parts; a service may not take them.
RESERVED_SERVICE_NAMES = frozenset({"edge", "ingress", "egress", "traefik", "host"})

# Where a service's files from config-secrets appear (the same path Swarm secrets use).
SERVICE_FILES_DIR = "/run/secrets"
CA_BUNDLE_FILE = "ca-bundle.pem"
# The variables the usual TLS stacks read for a custom trust store (OpenSSL/Python ssl, requests,
# Node.js). They are set by the platform when runtime.caBundle is set, never by a service's env.
CA_BUNDLE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")

# Capabilities a service may add back after `drop: ALL`. Anything that reaches the host or other
# containers (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE, DAC_READ_SEARCH, ...) is refused.
ALLOWED_CAPABILITIES = frozenset(
    {"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETGID", "SETUID"}
)

# Keys users reach for that would undo the hardening: refused with a reason instead of the generic
# "extra inputs are not permitted".
FORBIDDEN_SERVICE_KEYS = {
    "ports": "only the edge publishes ports; reach this service through edge.routes",
    "publish": "only the edge publishes ports; reach this service through edge.routes",
    "publishedPorts": "only the edge publishes ports; reach this service through edge.routes",
    "privileged": "privileged containers are never allowed",
    "networkMode": "host, container and none network modes are not allowed; use connects/egress",
    "network": "networks are derived from connects, egress and edge.routes",
    "networks": "networks are derived from connects, egress and edge.routes",
    "pidMode": "sharing the host's PID namespace is not allowed",
    "ipcMode": "sharing the host's IPC namespace is not allowed",
    "userns": "the host user namespace is not allowed",
    "mounts": "persistent paths are EncryptedVolumes only: use volumes: {<volume>: <path>}",
    "binds": "host paths are not allowed: use volumes: {<volume>: <path>}",
    "hostPath": "host paths are not allowed: use volumes: {<volume>: <path>}",
    "devices": "host devices are not allowed",
    "uploads": "files with secrets go onto an EncryptedVolume (secrets, runtime.caBundle), never uploads",
    "readOnly": "the root filesystem is always read-only; list writable scratch paths under tmpfs",
    "securityOpts": "security options are fixed (no-new-privileges)",
}

# The grammar is platform_rules.image_reference (shared with the policy pack and
# scripts/pin_images.py); declared here too so it is held to the rules of every settings grammar.
grammar(
    "image reference", image_reference.REFERENCE, "ghcr.io/open-webui/open-webui:v0.6.5@sha256:" + "0" * 64
)
_CAPABILITY = grammar("capability", r"(?:CAP_)?[A-Z_]{1,32}", "NET_BIND_SERVICE")


def image_parts(reference: str) -> tuple[str, str, str | None]:
    """'repo:tag@sha256:...' -> (repo, tag, digest or None). Raises ValueError when malformed or
    without an explicit tag."""
    parsed = image_reference.parse(reference)
    if parsed is None or parsed.tag is None:
        raise ValueError(
            "must be an image reference 'repository:tag' or 'repository:tag@sha256:<64 hex>' "
            f"(lowercase repository, explicit tag), got {reference!r}"
        )
    return parsed.repository, parsed.tag, parsed.digest


def _image(value: str) -> str:
    _, tag, _ = image_parts(value)
    if tag == "latest" or not any(ch.isdigit() for ch in tag):
        raise ValueError(f"must pin a release tag, not a moving tag such as 'latest', got {value!r}")
    return value


ImageReference = Annotated[str, AfterValidator(_image)]


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https":
        raise ValueError(f"must be an https:// URL (outbound calls use verified TLS), got {value!r}")
    if not parts.hostname or any(ch.isspace() for ch in value) or parts.username or parts.password:
        raise ValueError(f"must be an https:// URL with a host and no credentials, got {value!r}")
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]


def _duration(value: Any) -> int:
    """'30s', '2m', 15 -> seconds."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as '30s' or '2m'")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = DURATION.match(value)
        if match:
            return int(match.group("number")) * {None: 1, "s": 1, "m": 60, "h": 3600}[match.group("unit")]
    raise ValueError(f"must be a duration such as '30s' or '2m', got {value!r}")


class HealthcheckSettings(Model):
    """Docker healthcheck of a service (the image's own tools: CMD or CMD-SHELL form)."""

    test: list[str] = Field(description="['CMD', 'prog', 'arg'...] or ['CMD-SHELL', 'command'].")
    interval: Annotated[Integer, Field(ge=1, le=3600)] = Field(30, description="Seconds between checks.")
    timeout: Annotated[Integer, Field(ge=1, le=600)] = Field(5, description="Seconds before a check fails.")
    retries: Annotated[Integer, Field(ge=1, le=100)] = Field(3, description="Failures before unhealthy.")
    start_period: Annotated[Integer, Field(ge=0, le=3600)] = Field(
        30, description="Seconds of grace after start."
    )

    @field_validator("interval", "timeout", "start_period", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> int:
        return _duration(value)

    @field_validator("test")
    @classmethod
    def _test(cls, value: list[str]) -> list[str]:
        if len(value) < 2 or value[0] not in ("CMD", "CMD-SHELL"):
            raise ValueError(
                f"must start with 'CMD' (exec form) or 'CMD-SHELL' followed by the command, got {value!r}"
            )
        return value


class ServiceSettings(Model):
    """One entry of config key `services`."""

    enabled: Flag = Field(True, description="false removes a built-in service from the stack.")
    image: ImageReference = Field(
        description="Pinned image 'repository:tag' (prod: 'repository:tag@sha256:<digest>')."
    )
    port: Annotated[Integer, Field(ge=1, le=65535)] | None = Field(
        None, description="Port the service listens on inside its internal networks (null: none)."
    )
    user: ContainerUser | None = Field(
        None,
        description="uid:gid the container runs as; defaults to its volumes' dataOwner. "
        "Must equal the dataOwner of every volume it mounts.",
    )
    command: list[str] | None = Field(None, description="Arguments to the image's entrypoint.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Plain, non-secret environment. Secrets come from `secrets` as files in /run/secrets.",
    )
    connects: list[ResourceName] = Field(
        default_factory=list,
        description="Services this one calls; each link is its own internal network.",
    )
    egress: Flag = Field(
        False, description="Joins the egress network (route out). Only services that call out."
    )
    endpoints: list[HttpsUrl] = Field(
        default_factory=list, description="Outbound https:// endpoints it calls (needs egress: true)."
    )
    volumes: dict[ResourceName, ContainerPath] = Field(
        default_factory=dict,
        description="Persistent paths: {<EncryptedVolume name (a key of `volumes`)>: <container path>}.",
    )
    tmpfs: dict[ContainerPath, ByteSize] = Field(
        default_factory=lambda: {"/tmp": 64 * 1024**2},
        description="Writable scratch paths in memory: {<container path>: <size>}.",
    )
    secrets: list[ResourceName] = Field(
        default_factory=list,
        description="Generated secrets this service reads from /run/secrets/<name> (shared by name).",
    )
    capabilities: list[str] = Field(
        default_factory=list, description="Capabilities added back after dropping all."
    )
    memory: ByteSize = Field(512 * 1024**2, description="Memory limit (no swap beyond it).")
    cpus: Number | None = Field(None, gt=0, le=256, description="CPU limit in cores (null: none).")
    pids: Annotated[Integer, Field(ge=16, le=65536)] = Field(256, description="Process/thread limit.")
    healthcheck: HealthcheckSettings | None = Field(None, description="Docker healthcheck.")
    restart: Literal["unless-stopped", "always", "on-failure"] = Field(
        "unless-stopped", description="Restart policy."
    )
    replicas: Annotated[Integer, Field(ge=1, le=100)] = Field(
        1, description="Swarm mode only: tasks of a stateless service."
    )

    @model_validator(mode="before")
    @classmethod
    def _forbidden_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key, reason in FORBIDDEN_SERVICE_KEYS.items():
                if key in data:
                    raise KeyProblem(key, f"not allowed: {reason}")
        return data

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not env_rules.ENV_NAME.matches(name):
                raise KeyProblem(name, "not a valid environment variable name")
            if name.upper() in CA_BUNDLE_VARIABLES and text:
                raise KeyProblem(name, "set by the platform; put a custom CA bundle in runtime.caBundle")
            reason = env_rules.verification_disabled(name, text)
            if reason:
                raise KeyProblem(name, f"{reason}; outbound TLS must be verified")
            if env_rules.looks_like_secret(name, text):
                raise KeyProblem(
                    name,
                    "looks like a secret; secrets never go into the environment: list it "
                    f"under secrets and point the service at {SERVICE_FILES_DIR}/<name> (e.g. {name}_FILE)",
                )
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str] | None) -> list[str] | None:
        for index, argument in enumerate(value or []):
            reason = env_rules.insecure_argument(argument)
            if reason:
                raise KeyProblem(index, f"{reason}; outbound TLS must be verified")
        return value

    @field_validator("capabilities")
    @classmethod
    def _capabilities(cls, value: list[str]) -> list[str]:
        result = []
        for index, cap in enumerate(value):
            if not _CAPABILITY.matches(cap):
                raise KeyProblem(index, f"must be a capability name such as 'NET_BIND_SERVICE', got {cap!r}")
            name = cap.removeprefix("CAP_")
            if name not in ALLOWED_CAPABILITIES:
                raise ValueError(
                    f"{name} is not allowed (it reaches the host or other containers); allowed: "
                    + ", ".join(sorted(ALLOWED_CAPABILITIES))
                )
            result.append(name)
        return sorted(set(result))

    @field_validator("volumes", mode="before")
    @classmethod
    def _volume_names(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            for key in value:
                if isinstance(key, str) and (key.startswith(("/", ".", "~")) or "/" in key):
                    raise KeyProblem(
                        key,
                        "a host path is not allowed; persistent paths are EncryptedVolumes: "
                        "use the name of a `volumes` entry",
                    )
        elif isinstance(value, list):
            raise ValueError(
                "must be a mapping {<EncryptedVolume name>: <container path>}; host paths and plain "
                "Docker volumes are not allowed"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ServiceSettings:
        if self.endpoints and not self.egress:
            raise KeyProblem(
                "endpoints", "calling out needs egress: true (the only network with a route out)"
            )
        paths: dict[str, str] = {}
        for volume, path in self.volumes.items():
            if path in paths:
                raise KeyProblem(("volumes", volume), f"same path as volume {paths[path]!r}")
            if path == "/" or path == SERVICE_FILES_DIR or path.startswith(SERVICE_FILES_DIR + "/"):
                raise KeyProblem(("volumes", volume), f"{path} is reserved")
            paths[path] = volume
        for path in self.tmpfs:
            if path in paths:
                raise KeyProblem(("tmpfs", path), f"{path} is also the path of volume {paths[path]!r}")
        if self.replicas > 1 and self.volumes:
            raise KeyProblem(
                "replicas", "a service with volumes runs exactly one task (its data is on one node)"
            )
        if len(set(self.connects)) != len(self.connects):
            raise KeyProblem("connects", "lists a service twice")
        return self


class RuntimeSettings(Model):
    """Config key `runtime`: how every service runs."""

    secrets_volume: ResourceName = Field(
        "config-secrets",
        description="EncryptedVolume holding each service's secret files (mounted read-only at /run/secrets).",
    )
    ca_bundle: str | None = Field(
        None,
        description="PEM CA certificates every service trusts for outbound TLS, as /run/secrets/ca-bundle.pem "
        "(SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS). SSL_CERT_FILE and REQUESTS_CA_BUNDLE "
        "replace the default trust store: include the public roots when services also call public endpoints.",
    )
    logs_volume: ResourceName = Field(
        "logs", description="EncryptedVolume for the edge's access and error logs (and the log collector's)."
    )
    log_driver: Literal["local", "none"] = Field(
        "local",
        description="Docker log driver. 'local' keeps a bounded, rotated buffer on the host's "
        "(unencrypted) disk for `docker logs`; 'none' keeps nothing there.",
    )
    log_max_size: ByteSize = Field(10 * 1024**2, description="Per log file (local driver).")
    log_max_files: Annotated[Integer, Field(ge=1, le=20)] = Field(3, description="Rotated files kept.")

    @field_validator("ca_bundle")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "-----BEGIN CERTIFICATE-----" not in value or "PRIVATE KEY" in value:
            raise ValueError("must be PEM certificates ('-----BEGIN CERTIFICATE-----'), and no key")
        return value


CATALOGUE_FILE = Path(__file__).with_name("catalogue") / "services.yaml"


class CatalogueError(Exception):
    """A built-in service catalogue that is not valid: the message names the file and the entry."""


def _entry_problems(name: str, spec: Any) -> list[str]:
    try:
        ServiceSettings.model_validate(spec)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if part != "[key]")
            cause = (error.get("ctx") or {}).get("error")
            if isinstance(cause, KeyProblem):
                loc, message = loc + cause.path, cause.message
            else:
                message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{key_path(('services', name, *loc))}: {message}")
        return problems
    return []


def load_catalogue(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The built-in services (each `services.<name>` entry as a stack writes it, validated by
    ServiceSettings) and the uid:gid each image runs as. Raises CatalogueError naming every bad
    entry."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or set(data) != {"services", "imageUsers"}:
        raise CatalogueError(f"{path}: must be a mapping with exactly the keys services and imageUsers")
    services, users = data["services"], data["imageUsers"]
    if not isinstance(services, dict) or not isinstance(users, dict):
        raise CatalogueError(f"{path}: services and imageUsers must be mappings")
    problems: list[str] = []
    for name, spec in services.items():
        if not RESOURCE_NAME.matches(name) or name in RESERVED_SERVICE_NAMES:
            problems.append(f"services: {name!r} is not a service name the platform can take")
        elif not isinstance(spec, dict):
            problems.append(f"{key_path(('services', name))}: must be a mapping of service settings")
        else:
            problems += _entry_problems(name, spec)
    for name, user in users.items():
        if name not in services:
            problems.append(f"{key_path(('imageUsers', name))}: not a service of the catalogue")
        elif not UID_GID.matches(user):
            problems.append(f"{key_path(('imageUsers', name))}: must be a quoted 'uid:gid', got {user!r}")
    if problems:
        raise CatalogueError(f"{path}: invalid built-in service catalogue:\n  " + "\n  ".join(problems))
    return services, users


BUILTIN_SERVICES, IMAGE_USERS = load_catalogue(CATALOGUE_FILE)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_services(value: Any) -> Any:
    """Config `services`: an entry named like a built-in service is merged over its built-in
    definition (nested objects key by key, lists replace); other entries are new services."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        return value  # pydantic reports the type error
    merged: dict[str, Any] = {}
    for name, override in value.items():
        builtin = BUILTIN_SERVICES.get(name)
        if builtin is not None and isinstance(override, Mapping):
            merged[name] = _merge(builtin, override)
        elif builtin is not None and override is None:
            merged[name] = dict(builtin)
        else:
            merged[name] = override
    return merged


def builtin_services() -> dict[str, ServiceSettings]:
    """Every built-in service with its built-in definition (the whole default platform)."""
    return {name: ServiceSettings.model_validate(spec) for name, spec in BUILTIN_SERVICES.items()}
