"""`make show STACK=...`: what a stack deploys, read from its settings like a compose file.

Services with their images (digest or "not pinned"), networks and who is on them, volumes with
their LUKS UUID, mapper, key version and mount point, routes to services, and the certificate
mode (with the expiry of a custom chain). It reads Pulumi.<stack>.yaml through the same settings
models and renderers the program uses; it needs no engine and no state, and never shows a secret.

    .venv/bin/python -m scripts.show_stack dev
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from components.at_rest.luks_scripts import volume_spec
from components.isolation.network import EDGE, plan_networks
from components.settings import PROJECT, SECRET_KEYS, SettingsError, StackSettings, parse_settings
from components.settings.services import image_parts

REPO = Path(__file__).resolve().parents[1]


def stack_config(stack: str) -> dict[str, Any]:
    """The project keys of Pulumi.<stack>.yaml (secret keys and encrypted values left out)."""
    path = REPO / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise SystemExit(f"error: {path.name} does not exist (stacks: {', '.join(stacks())})")
    raw = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    prefix = f"{PROJECT}:"
    return {
        key[len(prefix) :]: value
        for key, value in raw.items()
        if key.startswith(prefix) and key[len(prefix) :] not in SECRET_KEYS
    }


def stacks() -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in REPO.glob("Pulumi.*.yaml"))


def _certificate_expiry(chain: str) -> str:
    from cryptography import x509

    leaf = x509.load_pem_x509_certificates(chain.encode())[0]
    return f"leaf expires {leaf.not_valid_after_utc:%Y-%m-%d}"


def render(settings: StackSettings, stack: str) -> str:
    lines: list[str] = [f"stack: {stack} ({settings.environment})"]
    host = settings.host
    target = "this machine" if host.mode == "local" else f"{host.user}@{host.address}:{host.port} over ssh"
    lines.append(f"host: {host.mode}, {target}{' (sudo -n)' if host.become else ''}")

    plan = plan_networks(settings, swarm=settings.swarm.enabled)
    lines.append("services:")
    enabled = {name: s for name, s in sorted(settings.services.items()) if s.enabled}
    if not enabled:
        lines.append("  (none)")
    for name, service in enabled.items():
        image = str(service.image)
        pinned = image_parts(image)[2] is not None
        lines.append(f"  {name}:")
        lines.append(f"    image: {image}{'' if pinned else '   # not pinned by digest'}")
        if service.port:
            lines.append(f"    port: {service.port}")
        networks = [a.name for a in plan.of(name)]
        lines.append(f"    networks: [{', '.join(networks)}]")
        if service.volumes:
            mounts = ", ".join(f"{vol}:{path}" for vol, path in sorted(service.volumes.items()))
            lines.append(f"    volumes: [{mounts}]")
    if plan.of(EDGE):
        edge_image = settings.edge.image
        digest = f"@{edge_image.digest}" if edge_image.digest else "   # not pinned by digest"
        lines.append(f"  {EDGE} (Traefik):")
        lines.append(f"    image: {edge_image.repository}:{edge_image.tag}{digest}")
        lines.append(f"    ports: {settings.edge.ports.http}->80, {settings.edge.ports.https}->443")
        lines.append(f"    networks: [{', '.join(a.name for a in plan.of(EDGE))}]")

    lines.append("networks:")
    for network in plan.networks:
        kind = network.role + (", encrypted overlay" if network.encrypted else "")
        lines.append(f"  {network.name} ({kind}): {', '.join(network.members)}")
    if not plan.networks:
        lines.append("  (none)")

    lines.append("volumes (LUKS2):")
    for name, volume in sorted(settings.volumes.items()):
        spec = volume_spec(name, volume, settings.encryption, project=PROJECT, stack=stack)
        where = spec.source if volume.backing == "device" else f"{spec.source} ({volume.size} bytes)"
        lines.append(f"  {name}: {volume.backing} {where}")
        lines.append(f"    luks uuid {spec.uuid}, /dev/mapper/{spec.mapper}, key version {spec.key_version}")
        lines.append(f"    mounted at {spec.mount}, data {spec.data_dir} (owner {spec.data_owner})")
    lines.append(f"  unlock at boot: {settings.encryption.unlock_at_boot}")
    if settings.encryption.unlock_at_boot == "tang":
        tang = settings.encryption.tang
        lines.append(f"    while {tang.threshold} of these Tang servers answer:")
        lines += [f"      {server.url} (signing key {server.thumbprint})" for server in tang.servers]

    lines.append("routes:")
    for name, route in sorted(settings.edge.routes.items()):
        kind = "wss" if route.websocket else "https"
        lines.append(f"  {name}: {kind}://{route.host}{route.path} -> {route.service}:{route.port}")
    if not settings.edge.routes:
        lines.append("  (none: no edge container, nothing listens on 80/443)")

    certificates = settings.edge.certificates
    detail = ""
    if certificates.mode == "acme":
        detail = f" ({'staging' if certificates.acme.staging else 'production'}, {certificates.acme.email})"
    elif certificates.mode == "custom" and certificates.chain:
        detail = f" ({_certificate_expiry(certificates.chain)})"
    elif certificates.mode == "dev":
        detail = " (a local CA: pulumi stack output devCaCertificate)"
    lines.append(f"certificates: {certificates.mode}{detail}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: python -m scripts.show_stack STACK (one of: {', '.join(stacks())})", file=sys.stderr)
        return 2
    stack = argv[0]
    try:
        settings = parse_settings(stack_config(stack), stack=stack)
    except SettingsError as error:
        print(f"error: Pulumi.{stack}.yaml: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(render(settings, stack))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
