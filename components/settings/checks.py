"""Every check that needs more than one config key, in one place.

`stack_problems` runs them all from `parse_settings`, after each key was validated on its own and
before the program registers anything; it reports every problem at once. Each problem names the
key to change as a path (spelled for `pulumi config set --path` by keys.config_key).
`tls_key_problems` holds the secret edgeTlsPrivateKey to edge.certificates.chain (`load_secrets`
runs it); `ownership_warnings` are preview warnings, not errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from components.in_transit import certificates

from .backups import backup_volume_names
from .base import parse_owner
from .keys import PathPart
from .paths import is_within
from .services import IMAGE_USERS, RESERVED_SERVICE_NAMES, image_parts

if TYPE_CHECKING:
    from . import StackSettings
    from .backups import BackupSettings
    from .edge import EdgeSettings
    from .services import RuntimeSettings, ServiceSettings
    from .storage import EncryptionSettings, VolumeSettings
    from .swarm import SwarmSettings

Problem = tuple[tuple[PathPart, ...], str]


def _known(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def pin_instruction(stack: str | None) -> str:
    """How to pin an image by digest: scripts/pin_images.py pins each image the stack file writes
    (`services.<name>.image` as "repository:tag", `edge.image` as {repository, tag})."""
    name = stack or "<stack>"
    return f"pin it with: make pin-images STACK={name} (pins every image written in Pulumi.{name}.yaml)"


def volume_problems(volumes: Mapping[str, VolumeSettings]) -> list[Problem]:
    """One device backs one volume (two volumes on one device would format each other)."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for name, volume in volumes.items():
        if volume.backing == "device" and volume.device:
            if volume.device in seen:
                problems.append(
                    (
                        ("volumes", name, "device"),
                        f"{volume.device} is already used by volume {seen[volume.device]!r}",
                    )
                )
            seen.setdefault(volume.device, name)
    return problems


def service_problems(
    services: Mapping[str, ServiceSettings],
    volumes: Mapping[str, VolumeSettings],
    runtime: RuntimeSettings,
    *,
    environment: str,
    stack: str | None = None,
) -> list[Problem]:
    problems: list[Problem] = []
    enabled = {name: s for name, s in services.items() if s.enabled}
    for name, service in services.items():
        key = ("services", name)
        if name in RESERVED_SERVICE_NAMES:
            problems.append((key, "the name is reserved for the platform"))
        if not service.enabled:
            continue
        for volume in service.volumes:
            if volume not in volumes:
                problems.append(
                    (
                        (*key, "volumes", volume),
                        f"unknown EncryptedVolume {volume!r} (known: {_known(volumes)}); persistent "
                        "paths are EncryptedVolumes only",
                    )
                )
            elif volume == runtime.secrets_volume:
                problems.append(
                    (
                        (*key, "volumes", volume),
                        "the secrets volume is not mounted whole; list secrets under services.<name>.secrets",
                    )
                )
        owners = {volumes[v].data_owner for v in service.volumes if v in volumes}
        if len(owners) > 1:
            problems.append(
                (
                    (*key, "volumes"),
                    f"its volumes have different dataOwners ({', '.join(sorted(owners))}); one user "
                    "must be able to write all of them",
                )
            )
        elif owners and service.user is not None and service.user not in owners:
            (owner,) = owners
            problems.append(
                (
                    (*key, "user"),
                    f"{service.user} cannot write its volumes (dataOwner {owner}); set both to the same uid:gid",
                )
            )
        elif len(owners) == 1 and service.user is None and parse_owner(next(iter(owners)))[0] == 0:
            # The service runs as its volumes' owner: here root, with the decrypted data mounted.
            volume = next(v for v in service.volumes if v in volumes)
            expected = IMAGE_USERS.get(name, "the uid:gid its image runs as")
            problems.append(
                (
                    ("volumes", volume, "dataOwner"),
                    f"is {next(iter(owners))} (root) and service {name!r} runs as its volumes' owner; "
                    f"containers never run as uid 0: set {expected}",
                )
            )
        if (service.secrets or runtime.ca_bundle) and service.user is None and not owners:
            problems.append(
                (
                    (*key, "user"),
                    "required when the service reads files from /run/secrets (secrets or "
                    "runtime.caBundle): they are readable by that uid:gid only",
                )
            )
        for target in service.connects:
            if target == name:
                problems.append(((*key, "connects"), "a service does not connect to itself"))
            elif target not in services:
                problems.append(((*key, "connects"), f"unknown service {target!r}"))
            elif not services[target].enabled:
                problems.append(((*key, "connects"), f"service {target!r} is disabled"))
            elif services[target].port is None:
                problems.append(((*key, "connects"), f"service {target!r} has no port"))
        if environment == "prod":
            _, _, digest = image_parts(service.image)
            if digest is None:
                problems.append(
                    (
                        (*key, "image"),
                        "prod requires a digest pin 'repository:tag@sha256:<64 hex>' (a tag can be "
                        f"moved), got {service.image!r}; {pin_instruction(stack)}",
                    )
                )
    if (runtime.secrets_volume not in volumes) and any(s.secrets for s in enabled.values()):
        problems.append(
            (
                ("runtime", "secretsVolume"),
                f"unknown EncryptedVolume {runtime.secrets_volume!r} (known: {_known(volumes)})",
            )
        )
    return problems


def edge_problems(
    edge: EdgeSettings,
    services: Mapping[str, ServiceSettings],
    volumes: Mapping[str, VolumeSettings],
    runtime: RuntimeSettings,
    *,
    environment: str,
    stack: str | None = None,
) -> list[Problem]:
    """The edge runs when something is routed. Every service it forwards to (routes, the WebSocket
    session check) must be an enabled service, on the port it listens on: the edge joins exactly
    those services' link networks. It keeps its keys and logs on the secrets and logs volumes. In
    prod its image is pinned by digest and its certificates are publicly trusted."""
    problems: list[Problem] = []
    runtime_volumes: list[tuple[tuple[PathPart, ...], str]] = [
        (("runtime", "secretsVolume"), runtime.secrets_volume),
        (("runtime", "logsVolume"), runtime.logs_volume),
    ]
    for key, volume in runtime_volumes:
        if edge.routes and volume not in volumes:
            problems.append(
                (
                    key,
                    f"unknown EncryptedVolume {volume!r} (the edge keeps its keys and logs there; "
                    f"known: {_known(volumes)})",
                )
            )
    targets: list[tuple[tuple[PathPart, ...], str, int]] = [
        (("edge", "routes", name), route.service, route.port) for name, route in edge.routes.items()
    ]
    auth = edge.websocket.auth
    if auth is not None:
        targets.append((("edge", "websocket", "auth"), auth.service, auth.port))
    enabled = [n for n, s in services.items() if s.enabled]
    for key, service, port in targets:
        config = services.get(service)
        if config is None or not config.enabled:
            problems.append(
                ((*key, "service"), f"unknown or disabled service {service!r} (services: {_known(enabled)})")
            )
        elif config.port != port:
            problems.append(((*key, "port"), f"service {service!r} listens on {config.port}, not {port}"))
    if environment == "prod" and edge.routes:
        if not edge.image.digest:
            problems.append(
                (
                    ("edge", "image", "digest"),
                    "required when environment is 'prod' (a tag can be moved), for "
                    f"{edge.image.repository}:{edge.image.tag}; {pin_instruction(stack)}",
                )
            )
        if edge.certificates.mode == "dev":
            problems.append(
                (
                    ("edge", "certificates", "mode"),
                    "'dev' (a local CA) is not allowed in prod; use acme or custom",
                )
            )
        if edge.certificates.mode == "acme" and edge.certificates.acme.staging:
            problems.append(
                (
                    ("edge", "certificates", "acme", "staging"),
                    "staging certificates are untrusted; not allowed in prod",
                )
            )
    return problems


def swarm_problems(
    swarm: SwarmSettings,
    services: Mapping[str, ServiceSettings],
    volumes: Mapping[str, VolumeSettings],
    *,
    edge_volumes: tuple[str, ...] = (),
) -> list[Problem]:
    """Swarm mode: `edge_volumes` are the volumes the edge mounts (when something is routed); they
    must sit on the edge's node, as a service's volumes must sit on one node."""
    if not swarm.enabled:
        return []
    problems: list[Problem] = [
        (("swarm", "volumeNodes", volume), f"unknown EncryptedVolume {volume!r}")
        for volume in swarm.volume_nodes
        if volume not in volumes
    ]
    for name, service in services.items():
        if not service.enabled:
            continue
        nodes = {swarm.node_of_volume(v) for v in service.volumes}
        if len(nodes) > 1:
            problems.append(
                (
                    ("services", name, "volumes"),
                    f"its volumes sit on different nodes ({', '.join(sorted(nodes))}); a task can only "
                    "mount volumes of the node it runs on (swarm.volumeNodes)",
                )
            )
    for volume in edge_volumes:
        if volume in volumes and swarm.node_of_volume(volume) != swarm.edge:
            problems.append(
                (
                    ("swarm", "volumeNodes", volume),
                    f"the edge runs on {swarm.edge!r} and mounts this volume; it must sit on that node, "
                    f"not {swarm.node_of_volume(volume)!r}",
                )
            )
    return problems


def backup_problems(settings: StackSettings) -> list[Problem]:
    """Backups copy volumes that exist, with the repository password on the secrets volume, to a
    repository outside the platform's own directories; Swarm mode has no backups yet."""
    backups: BackupSettings = settings.backups
    problems: list[Problem] = []
    for index, volume in enumerate(backups.volumes or ()):
        if volume not in settings.volumes:
            problems.append(
                (
                    ("backups", "volumes", index),
                    f"unknown EncryptedVolume {volume!r} (known: {_known(settings.volumes)})",
                )
            )
    path = backups.repository.path if backups.repository.kind == "local" else None
    if path is not None:
        encryption: EncryptionSettings = settings.encryption
        dirs = {
            "encryption.root": encryption.root,
            "encryption.stateDir": encryption.state_dir,
            "encryption.keysDir": encryption.keys_dir,
            "encryption.headerBackupDir": encryption.header_backup_dir,
        }
        for name, directory in dirs.items():
            if is_within(path, directory) or is_within(directory, path):
                problems.append(
                    (
                        ("backups", "repository", "path"),
                        f"{path} overlaps {name} ({directory}); the repository is on another disk, "
                        "apart from the platform's own directories",
                    )
                )
    if not backups.enabled:
        return problems
    if settings.swarm.enabled:
        problems.append(
            (("backups", "enabled"), "backups are not supported in Swarm mode (swarm.enabled) yet")
        )
    if settings.runtime.secrets_volume not in settings.volumes:
        problems.append(
            (
                ("runtime", "secretsVolume"),
                f"unknown EncryptedVolume {settings.runtime.secrets_volume!r} (backups keep the "
                f"repository password there; known: {_known(settings.volumes)})",
            )
        )
    if not backup_volume_names(settings):
        problems.append((("backups", "volumes"), "no volume to back up"))
    return problems


def ownership_warnings(
    services: Mapping[str, ServiceSettings], volumes: Mapping[str, VolumeSettings]
) -> list[str]:
    """Built-in services whose volumes' dataOwner differs from the uid their image runs as."""
    warnings = []
    for name, expected in IMAGE_USERS.items():
        service = services.get(name)
        if service is None or not service.enabled or service.user is not None:
            continue
        owners = {volumes[v].data_owner for v in service.volumes if v in volumes}
        if owners and owners != {expected}:
            volume = next(iter(service.volumes))
            warnings.append(
                f"services.{name}: runs as its volumes' dataOwner {', '.join(sorted(owners))}, but its image "
                f"expects {expected}; set volumes.{volume}.dataOwner to {expected!r}"
            )
    return warnings


def tls_key_problems(edge: EdgeSettings, key_pem: str | None) -> list[str]:
    """Problems with the secret config key edgeTlsPrivateKey, as messages without the key name."""
    if edge.certificates.mode != "custom":
        return []
    if not key_pem or not key_pem.strip():
        return [
            "required when edge.certificates.mode is 'custom' "
            "(pulumi config set --secret edgeTlsPrivateKey < key.pem)"
        ]
    assert edge.certificates.chain is not None
    return [
        f"{problem} (edge.certificates.chain)" if problem.startswith("does not match") else problem
        for problem in certificates.key_problems(edge.certificates.chain, key_pem)
    ]


def stack_problems(settings: StackSettings, *, stack: str | None = None) -> list[Problem]:
    """Every cross-key check, in key order. `stack` (the stack's name, when known) only names the
    stack in the instructions of a message."""
    problems = volume_problems(settings.volumes)
    problems += service_problems(
        settings.services, settings.volumes, settings.runtime, environment=settings.environment, stack=stack
    )
    problems += edge_problems(
        settings.edge,
        settings.services,
        settings.volumes,
        settings.runtime,
        environment=settings.environment,
        stack=stack,
    )
    edge_volumes = (
        (settings.runtime.secrets_volume, settings.runtime.logs_volume) if settings.edge.routes else ()
    )
    problems += swarm_problems(settings.swarm, settings.services, settings.volumes, edge_volumes=edge_volumes)
    problems += backup_problems(settings)
    return problems
