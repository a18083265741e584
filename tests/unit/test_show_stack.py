"""`make show STACK=...` (scripts/stack.sh show -> scripts/show_stack.py): the compose-like view
lists what the settings declare, for each shipped stack, and never a secret."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.at_rest.luks_scripts import volume_spec
from components.isolation.network import plan_networks
from components.settings import PROJECT, StackSettings, parse_settings
from scripts.show_stack import render
from tests.support.pinned_stack import pinned_stack_config
from tests.support.program_runner import load_stack_config

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in REPO.glob("Pulumi.*.yaml"))


def show(stack: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "scripts" / "stack.sh"), "show", stack],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_lists_the_stack(out: str, settings: StackSettings, stack: str) -> None:
    for name, service in settings.services.items():
        if service.enabled:
            assert f"  {name}:\n    image: {service.image}" in out
    for network in plan_networks(settings).networks:
        assert f"  {network.name} ({network.role}): {', '.join(network.members)}" in out
    for name, volume in settings.volumes.items():
        spec = volume_spec(name, volume, settings.encryption, project=PROJECT, stack=stack)
        assert f"luks uuid {spec.uuid}, /dev/mapper/{spec.mapper}, key version {spec.key_version}" in out
    for route in settings.edge.routes.values():
        assert f"{route.host}{route.path} -> {route.service}:{route.port}" in out
    assert f"certificates: {settings.edge.certificates.mode}" in out


@pytest.mark.parametrize("stack", [s for s in STACKS if s != "prod"])
def test_show_lists_services_networks_volumes_and_routes(stack: str) -> None:
    """Every shipped stack but prod, which ships its images to be pinned (next test)."""
    settings = parse_settings(load_stack_config(stack), stack=stack)
    result = show(stack)
    assert result.returncode == 0, result.stderr
    assert_lists_the_stack(result.stdout, settings, stack)


def test_show_of_prod_before_and_after_pinning() -> None:
    """Shipped prod is refused as preview refuses it (each key to pin, and the command); pinned,
    it shows the whole platform with its digests and the edge."""
    before = show("prod")
    assert before.returncode == 1
    assert "encrypted-platform:services.webapp.image: prod requires a digest pin" in before.stderr
    assert "make pin-images STACK=prod" in before.stderr
    settings = parse_settings(pinned_stack_config("prod"), stack="prod")
    out = render(settings, "prod")
    assert_lists_the_stack(out, settings, "prod")
    assert "# not pinned by digest" not in out
    assert f"    image: traefik:{settings.edge.image.tag}@{settings.edge.image.digest}\n" in out
    assert "  webapp-events: wss://app.example.com/ws -> webapp:8080\n" in out


def test_show_refuses_an_unknown_stack_and_a_bad_name() -> None:
    missing = show("no-such-stack")
    assert missing.returncode == 1 and "Pulumi.no-such-stack.yaml does not exist" in missing.stderr
    bad = show("../etc")
    assert bad.returncode == 2 and "is not a stack name" in bad.stderr
