"""What a deployed stack should enforce: from its settings (Pulumi.<stack>.yaml through the
settings models) and its outputs (components/outputs.py: computed from the same settings, or read
from `pulumi stack output --json` of the deployment). No engine, no state, no secret."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from components.in_transit.traefik_config import INTERMEDIATE_CIPHER_SUITES, headers_middleware
from components.isolation.network import plan_networks
from components.outputs import stack_outputs
from components.settings import PROJECT, StackSettings
from components.settings.edge import EdgeSettings
from components.settings.storage import LUKS_CIPHER, LUKS_KEY_SIZE_BITS

from .model import Expected, ExpectedContainer, ExpectedEdge, ExpectedRoute, ExpectedVolume

CLEVIS_MODES = ("tang", "tpm2")


class OutputsError(Exception):
    """An outputs document without a fact the audit needs."""


def binding_hash(clevis_config: str, key_version: int) -> str:
    """The hash the LUKS program records for the clevis slot it bound (components/scripts/luks/
    clevis.sh, ep_binding_want: the configuration and the key version, one per line)."""
    return hashlib.sha256(f"{clevis_config}\n{key_version}\n".encode()).hexdigest()


def computed_outputs(settings: StackSettings, stack: str) -> dict[str, Any]:
    """The outputs the program exports for these settings (what `pulumi stack output` shows)."""
    plan = plan_networks(settings, swarm=settings.swarm.enabled)
    return stack_outputs(settings, plan, project=PROJECT, stack=stack)


def read_outputs(path: Path) -> dict[str, Any]:
    """A `pulumi stack output --json` document."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise OutputsError(f"{path}: cannot read the outputs ({error})") from error
    if not isinstance(document, dict):
        raise OutputsError(f"{path}: not a JSON object of stack outputs")
    return document


def _field(entry: Mapping[str, Any], where: str, key: str) -> Any:
    if not isinstance(entry, Mapping) or key not in entry:
        raise OutputsError(f"the outputs have no {where}.{key}")
    return entry[key]


def _headers(edge: EdgeSettings) -> tuple[dict[str, str], tuple[str, ...]]:
    rules = headers_middleware(edge)["headers"]
    sts = f"max-age={rules['stsSeconds']}"
    if rules["stsIncludeSubdomains"]:
        sts += "; includeSubDomains"
    if rules["stsPreload"]:
        sts += "; preload"
    values = {
        "Strict-Transport-Security": sts,
        "Content-Security-Policy": rules["contentSecurityPolicy"],
        "Referrer-Policy": rules["referrerPolicy"],
        "Permissions-Policy": rules["permissionsPolicy"],
    }
    if rules["contentTypeNosniff"]:
        values["X-Content-Type-Options"] = "nosniff"
    absent = tuple(sorted(name for name, value in rules["customResponseHeaders"].items() if value == ""))
    return values, absent


def expected_edge(edge: EdgeSettings, routes: Mapping[str, Any] | None = None) -> ExpectedEdge | None:
    """What the edge should show from outside: the routes (the `routes` output, or the settings'),
    the TLS profile, the header rules of the edge's configuration (traefik_config.py)."""
    if routes is None:
        routes = {
            name: {"url": f"https://{r.host}{r.path}", "websocket": r.websocket}
            for name, r in edge.routes.items()
        }
    if not routes:
        return None
    expected_routes = []
    for name, route in sorted(routes.items()):
        url = urlsplit(str(_field(route, f"routes.{name}", "url")))
        expected_routes.append(
            ExpectedRoute(name, url.hostname or "", url.path or "/", bool(route.get("websocket")))
        )
    min_version = edge.tls.effective_min_version
    values, absent = _headers(edge)
    return ExpectedEdge(
        routes=tuple(expected_routes),
        http_port=edge.ports.http,
        https_port=edge.ports.https,
        min_tls_version=min_version,
        tls12_cipher_suites=INTERMEDIATE_CIPHER_SUITES if min_version == "1.2" else (),
        headers=values,
        headers_absent=absent,
        certificate_mode=edge.certificates.mode,
        staples_ocsp=edge.certificates.mode == "custom",
        websocket_origins=tuple(edge.websocket.allowed_origins),
    )


def expected_facts(settings: StackSettings, stack: str, outputs: Mapping[str, Any] | None = None) -> Expected:
    """What the stack should enforce. `outputs` is a `pulumi stack output --json` document (the
    deployment's own record); without one, the outputs these settings give."""
    if outputs is None:
        outputs = computed_outputs(settings, stack)
    encryption = settings.encryption
    volumes = []
    for name, entry in sorted((outputs.get("volumes") or {}).items()):
        where = f"volumes.{name}"
        unlock = str(_field(entry, where, "unlock"))
        key_version = int(_field(entry, where, "keyVersion"))
        volumes.append(
            ExpectedVolume(
                name=name,
                docker_volume=str(_field(entry, where, "dockerVolume")),
                source=str(_field(entry, where, "source")),
                luks_uuid=str(_field(entry, where, "luksUuid")),
                mapper=str(_field(entry, where, "mapper")).removeprefix("/dev/mapper/"),
                key_version=key_version,
                mount_point=str(_field(entry, where, "mountPoint")),
                data_dir=str(_field(entry, where, "dataDir")),
                unlock=unlock,
                binding=binding_hash(encryption.clevis_config(), key_version)
                if unlock in CLEVIS_MODES
                else None,
            )
        )
    containers = []
    for name, entry in sorted((outputs.get("services") or {}).items()):
        where = f"services.{name}"
        ports = entry.get("ports") or {}
        containers.append(
            ExpectedContainer(
                name=str(_field(entry, where, "container")),
                networks=tuple(sorted(str(n) for n in _field(entry, where, "networks"))),
                published_ports=tuple(sorted(int(p) for p in ports.values())),
            )
        )
    networks = tuple(
        sorted(
            str(_field(entry, f"networks.{key}", "name"))
            for key, entry in (outputs.get("networks") or {}).items()
        )
    )
    internal = tuple(
        sorted(
            str(entry["name"])
            for entry in (outputs.get("networks") or {}).values()
            if isinstance(entry, Mapping) and entry.get("role") == "internal"
        )
    )
    kdf = encryption.kdf
    return Expected(
        stack=stack,
        cipher=LUKS_CIPHER,
        key_size_bits=LUKS_KEY_SIZE_BITS,
        pbkdf=kdf.pbkdf,
        pbkdf_memory_kib=kdf.memory_kib,
        pbkdf_iterations=kdf.iterations,
        pbkdf_parallel=kdf.parallel,
        keys_dir=encryption.keys_dir,
        header_backup_dir=encryption.header_backup_dir,
        volumes=tuple(volumes),
        containers=tuple(containers),
        networks=networks,
        edge=expected_edge(settings.edge, outputs.get("routes") or {}),
        internal_networks=internal,
    )
