"""What `pulumi stack output` shows: plain facts about what a stack deploys, from its settings.

Every value is derived from the settings and the network plan, so it is known at preview and is
the same value the resources receive: LUKS UUID, mapper, key version, mount point and unlock mode
per volume; container, image reference and networks per service; each route's URL and service;
the certificate mode (with a custom chain's expiry); the edge's URLs. Never a secret: passphrases,
keys and generated passwords stay in the state as secrets and never reach these outputs.
"""

from __future__ import annotations

from typing import Any

from components.at_rest.luks_scripts import volume_spec
from components.in_transit.certificates import load_chain
from components.in_transit.edge import CONTAINER_PREFIX
from components.isolation.network import EDGE, NetworkPlan
from components.isolation.service import container_name
from components.settings import StackSettings
from components.settings.backups import backup_volume_names, restic_repository
from components.settings.services import image_parts


def volume_outputs(settings: StackSettings, *, project: str, stack: str) -> dict[str, dict[str, Any]]:
    outputs: dict[str, dict[str, Any]] = {}
    for name, volume in sorted(settings.volumes.items()):
        spec = volume_spec(name, volume, settings.encryption, project=project, stack=stack)
        entry: dict[str, Any] = {
            "dockerVolume": f"{CONTAINER_PREFIX}-{name}",
            "backing": spec.backing,
            "source": spec.source,
            "luksUuid": spec.uuid,
            "mapper": f"/dev/mapper/{spec.mapper}",
            "keyVersion": spec.key_version,
            "mountPoint": spec.mount,
            "dataDir": spec.data_dir,
            "unlock": spec.unlock_at_boot,
        }
        if spec.unlock_at_boot == "tang":
            tang = settings.encryption.tang
            entry["tang"] = {
                "threshold": tang.threshold,
                "servers": [{"url": s.url, "thumbprint": s.thumbprint} for s in tang.servers],
            }
        if spec.backing == "file":
            entry["sizeBytes"] = spec.size_bytes
        if settings.swarm.enabled:
            entry["node"] = settings.swarm.node_of_volume(name)
        outputs[name] = entry
    return outputs


def _image(reference: str) -> dict[str, Any]:
    _, _, digest = image_parts(reference)
    return {"image": reference, "pinned": digest is not None}


def service_outputs(settings: StackSettings, plan: NetworkPlan) -> dict[str, dict[str, Any]]:
    """Each enabled service, and the edge when something is routed."""
    outputs: dict[str, dict[str, Any]] = {}
    for name, service in sorted(settings.services.items()):
        if not service.enabled:
            continue
        outputs[name] = {
            "container": container_name(name),
            **_image(service.image),
            "networks": [a.name for a in plan.of(name)],
            "volumes": dict(sorted(service.volumes.items())),
        }
    if settings.edge.routes:
        edge = settings.edge
        outputs[EDGE] = {
            "container": f"{CONTAINER_PREFIX}-{EDGE}",
            **_image(edge.image.reference),
            "networks": [a.name for a in plan.of(EDGE)],
            "ports": {"http": edge.ports.http, "https": edge.ports.https},
        }
    return outputs


def route_outputs(settings: StackSettings) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "url": f"{'wss' if route.websocket else 'https'}://{route.host}{route.path}",
            "service": route.service,
            "port": route.port,
            "websocket": route.websocket,
        }
        for name, route in sorted(settings.edge.routes.items())
    }


def certificate_outputs(settings: StackSettings) -> dict[str, Any]:
    certificates = settings.edge.certificates
    outputs: dict[str, Any] = {"mode": certificates.mode}
    if certificates.mode == "acme":
        outputs["acmeDirectory"] = certificates.acme.directory
    elif certificates.mode == "custom" and certificates.chain:
        # The chain is plain config, checked at preview: its leaf's expiry is known now.
        leaf = load_chain(certificates.chain)[0]
        outputs["expires"] = leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return outputs


def backup_outputs(settings: StackSettings) -> dict[str, Any]:
    """Where and when the volumes are backed up (the repository password is a secret output of
    its own, `backupRepositoryPassword`, exported by __main__.py)."""
    backups = settings.backups
    if not backups.enabled:
        return {"enabled": False}
    retention = backups.retention
    return {
        "enabled": True,
        "repository": restic_repository(settings),
        "volumes": list(backup_volume_names(settings)),
        "dailyAt": backups.daily_at,
        "retention": {
            "keepDaily": retention.keep_daily,
            "keepWeekly": retention.keep_weekly,
            "keepMonthly": retention.keep_monthly,
        },
    }


def stack_outputs(settings: StackSettings, plan: NetworkPlan, *, project: str, stack: str) -> dict[str, Any]:
    """The program's exports except the dev CA certificate (an Output of pulumi-tls)."""
    outputs: dict[str, Any] = {
        "volumes": volume_outputs(settings, project=project, stack=stack),
        "services": service_outputs(settings, plan),
        "networks": {
            spec.key: {"name": spec.name, "role": spec.role, "members": list(spec.members)}
            for spec in plan.networks
        },
        "routes": route_outputs(settings),
        "certificates": certificate_outputs(settings),
        "urls": [f"https://{host}" for host in settings.edge.hosts],
        "backups": backup_outputs(settings),
    }
    return outputs
