"""Drift: containers, volumes and networks on the host that the stack did not declare, and ports
published by anything but the stack's edge (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.at_rest.encrypted_volume import LABEL_PREFIX

from .isolation import container_name, published_ports
from .model import Control, Expected, Status

MAPPING_LABEL = f"{LABEL_PREFIX}.luks.mapping"  # encrypted_volume.volume_labels
# Docker's own networks (bridge mode and Swarm).
DOCKER_NETWORKS = frozenset({"bridge", "host", "none", "docker_gwbridge", "ingress"})


def _control(id_: str, promise: str, status: Status, summary: str, /, **details: Any) -> Control:
    return Control(id_, "drift", promise, status, summary, details)


def _declared_volume(expected: Expected, inspected: Mapping[str, Any]) -> bool:
    name = str(inspected.get("Name") or "")
    if name in {v.docker_volume for v in expected.volumes}:
        return True
    # A directory of an encrypted volume bound on its own (a service's secret files, the edge's
    # directory): the program labels it with the volume's mapping, and its source is inside that
    # volume's mount point.
    labels = inspected.get("Labels") or {}
    device = str((inspected.get("Options") or {}).get("device") or "")
    return any(
        labels.get(MAPPING_LABEL) == v.mapper and device.startswith(v.mount_point.rstrip("/") + "/")
        for v in expected.volumes
    )


def check(expected: Expected, facts: Mapping[str, Any]) -> list[Control]:
    containers, volumes, networks = facts.get("containers"), facts.get("dockerVolumes"), facts.get("networks")
    if containers is None or volumes is None or networks is None:
        return [_control("drift.docker", "network-isolation", "skip", "Docker did not answer on the host")]
    declared = {c.name for c in expected.containers}
    extra = sorted(container_name(c) for c in containers if container_name(c) not in declared)
    controls = []
    if extra:
        controls.append(
            _control(
                "drift.containers",
                "network-isolation",
                "fail",
                f"containers the stack did not declare: {', '.join(extra)}",
                containers=extra,
            )
        )
    else:
        controls.append(
            _control(
                "drift.containers",
                "network-isolation",
                "pass",
                f"only the stack's {len(containers)} containers",
            )
        )
    ports = {container_name(c): published_ports(c) for c in containers if container_name(c) not in declared}
    ports = {name: p for name, p in ports.items() if p}
    if ports:
        what = "; ".join(
            f"{n}: {', '.join('all (host network)' if p == -1 else str(p) for p in ps)}"
            for n, ps in sorted(ports.items())
        )
        controls.append(
            _control(
                "drift.published-ports",
                "firewall-boundaries",
                "fail",
                f"host ports published beside the stack: {what}",
                ports=ports,
            )
        )
    else:
        controls.append(
            _control(
                "drift.published-ports",
                "firewall-boundaries",
                "pass",
                "no host port published beside the stack's edge",
            )
        )
    stray_volumes = sorted(str(v.get("Name")) for v in volumes if not _declared_volume(expected, v))
    if stray_volumes:
        controls.append(
            _control(
                "drift.volumes",
                "luks-volumes",
                "fail",
                f"Docker volumes the stack did not declare (their data is under Docker's root, not on a LUKS volume): {', '.join(stray_volumes)}",
                volumes=stray_volumes,
            )
        )
    else:
        controls.append(_control("drift.volumes", "luks-volumes", "pass", "only the stack's Docker volumes"))
    stray_networks = sorted(
        str(n.get("Name"))
        for n in networks
        if n.get("Name") not in DOCKER_NETWORKS and n.get("Name") not in expected.networks
    )
    if stray_networks:
        controls.append(
            _control(
                "drift.networks",
                "network-isolation",
                "warn",
                f"networks the stack did not declare: {', '.join(stray_networks)}",
                networks=stray_networks,
            )
        )
    else:
        controls.append(
            _control(
                "drift.networks", "network-isolation", "pass", "only the stack's networks and Docker's own"
            )
        )
    return controls
