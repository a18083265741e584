"""`make show STACK=...` (scripts/stack.sh show -> scripts/show_stack.py): the compose-like view
lists what the settings declare, for each shipped stack, and never a secret."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.luks_scripts import volume_spec
from components.network import plan_networks
from components.settings import PROJECT, parse_settings
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


@pytest.mark.parametrize("stack", STACKS)
def test_show_lists_services_networks_volumes_and_routes(stack: str) -> None:
    result = show(stack)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    settings = parse_settings(load_stack_config(stack))
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


def test_show_says_when_a_stack_has_no_edge_and_unpinned_images() -> None:
    dev = show("dev").stdout
    assert "# not pinned by digest" in dev  # dev uses tags
    settings = parse_settings(load_stack_config("prod"))
    if not settings.edge.routes:
        assert "(none: no edge container, nothing listens on 80/443)" in show("prod").stdout


def test_show_refuses_an_unknown_stack_and_a_bad_name() -> None:
    missing = show("no-such-stack")
    assert missing.returncode == 1 and "Pulumi.no-such-stack.yaml does not exist" in missing.stderr
    bad = show("../etc")
    assert bad.returncode == 2 and "is not a stack name" in bad.stderr
