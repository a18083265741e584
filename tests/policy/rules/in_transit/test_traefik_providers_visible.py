"""Rule traefik-providers-visible (policy/rules/in_transit/traefik_providers_visible.py): its violating
programs (tests/support/programs/traefik_providers_visible.py) are rejected; then the rule's own
tests (from tests/policy/test_traefik_sources.py)."""

from __future__ import annotations

import pytest

from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs import Program
from tests.support.programs import traefik_providers_visible as programs
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


PROVIDERS = [
    ("http", "{endpoint: 'https://c.example.test/t'}"),
    ("rest", "{insecure: false}"),
    ("redis", "{endpoints: ['redis:6379']}"),
    ("etcd", "{endpoints: ['etcd:2379']}"),
    ("consul", "{endpoints: ['consul:8500']}"),
    ("zooKeeper", "{endpoints: ['zk:2181']}"),
    ("docker", "{}"),
    ("swarm", "{endpoint: 'tcp://manager:2375'}"),
    ("kubernetesIngress", "{}"),
    ("kubernetesCRD", "{}"),
    ("kubernetesGateway", "{}"),
    ("knative", "{}"),
    ("consulCatalog", "{}"),
    ("nomad", "{}"),
    ("ecs", "{}"),
]


@pytest.mark.parametrize(("provider", "conf"), PROVIDERS, ids=[p for p, _ in PROVIDERS])
def test_every_provider_but_file_is_refused(pack: PolicyPackProcess, provider: str, conf: str) -> None:
    from tests.support.programs.baseline import STATIC_CONFIG, edge
    from tests.support.programs.tls_only_routes_traefik_sources import app_platform

    def program() -> None:
        static = STATIC_CONFIG.replace("providers:\n", f"providers:\n  {provider}: {conf}\n", 1)
        edge(app_platform(), static=static)

    verdict = evaluate(capture(program, preview=True), pack=pack)
    found = [d for d in verdict.mandatory() if d.policy == "traefik-providers-visible"]
    assert len(found) == 1 and f"'{provider.lower()}' provider" in found[0].message, verdict.describe()
    assert verdict.policies("mandatory") == {"traefik-providers-visible"}, verdict.describe()
