"""docs/architecture.md's mermaid diagram matches the code: for the dev stack (the default
platform), every network the plan makes is drawn with its name, role and members, and every
service and volume (with its LUKS mapper, docker volume and mount paths) appears; the diagram
draws no network, link or volume the plan does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.at_rest.luks_scripts import volume_spec
from components.isolation.network import plan_networks
from components.settings import PROJECT, parse_settings
from tests.support.program_runner import load_stack_config

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
NODE_IDS = {  # diagram node id -> member name in the code
    "edge": "edge",
    "webapp": "webapp",
    "appdb": "app-db",
    "vector": "vector-store",
    "ingestion": "ingestion",
    "llm": "llm-gateway",
    "observability": "observability",
}


def diagram() -> str:
    """The one mermaid diagram of the section that shows what a stack deploys."""
    section = DOC.read_text().split("## What a stack deploys", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```mermaid\n(.*?)```", section, flags=re.S)
    return block


def test_links_are_the_network_plans() -> None:
    settings = parse_settings(load_stack_config("dev"))
    plan = plan_networks(settings)
    drawn = {
        (m["name"], frozenset({NODE_IDS[m["a"]], NODE_IDS[m["b"]]}))
        for m in re.finditer(
            r'(?m)^\s*(?P<a>\w+) ---\|"(?P<name>[\w-]+) \(internal\)"\| (?P<b>\w+)$', diagram()
        )
    }
    planned = {(n.name, frozenset(n.members)) for n in plan.networks if n.role == "internal"}
    assert drawn == planned


def test_ingress_and_egress_members() -> None:
    settings = parse_settings(load_stack_config("dev"))
    by_role = {n.role: n for n in plan_networks(settings).networks}
    text = diagram()
    egress = {
        NODE_IDS[m.group(1)]
        for m in re.finditer(rf'(?m)^\s*(\w+) -->\|"{by_role["egress"].name} \(egress, https only\)"\|', text)
    }
    assert egress == set(by_role["egress"].members)
    (ingress,) = re.findall(rf'-->\|"{by_role["ingress"].name} \(ingress\)[^"]*"\| (\w+)', text)
    assert (NODE_IDS[ingress],) == by_role["ingress"].members


def test_services_and_volumes_are_drawn_with_their_names_and_paths() -> None:
    settings = parse_settings(load_stack_config("dev"))
    text = diagram()
    for node_id, member in NODE_IDS.items():
        assert re.search(rf'(?m)^\s*{node_id}\["{re.escape(member)}[\]"< ]', text), member
    for name, volume in settings.volumes.items():
        spec = volume_spec(name, volume, settings.encryption, project=PROJECT, stack="dev")
        assert f'"{spec.mapper}<br/>{spec.mount}"' in text, name
        assert f'[("encrypted-platform-{name}")]' in text, name
    for service, config in settings.services.items():
        for path in config.volumes.values():
            assert f'-->|"{path}"|' in text, (service, path)
