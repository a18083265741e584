"""Rule capabilities-dropped (policy/rules/advisory/capabilities_dropped.py): its violating programs
(tests/support/programs/capabilities_dropped.py) are rejected; then the rule's own tests (from
tests/policy/test_workload_hardening.py)."""

from __future__ import annotations

import json

import pulumi_docker as docker
import pytest

from tests.support.analyzer import POLICY_DIR, PolicyPackProcess, capture, evaluate
from tests.support.programs import Program
from tests.support.programs import capabilities_dropped as programs
from tests.support.programs.baseline import internal_network
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


def _careless() -> None:
    net = internal_network("app-net")
    docker.Container(
        "worker",
        name="worker",
        image="ghcr.io/example/worker:1@sha256:" + "ab" * 32,
        cgroup_parent="/unlimited",
        security_opts=["no-new-privileges:true"],
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
    )


def test_advisory_hardening_rules_report_and_the_stack_configs_make_capabilities_mandatory(
    pack: PolicyPackProcess,
) -> None:
    captured = capture(_careless)
    verdict = evaluate(captured, pack=pack)
    levels = {d.policy: d.level for d in verdict.diagnostics}
    for policy in ("capabilities-dropped", "pid-limits", "cpu-limits", "cgroup-parent-default"):
        assert levels.get(policy) == "advisory", verdict.describe()
    for stack in ("dev", "prod"):
        config = json.loads((POLICY_DIR / "config" / f"{stack}.json").read_text())
        judged = evaluate(captured, file_config=config, pack=pack)
        assert "capabilities-dropped" in judged.policies("mandatory"), judged.describe()
        assert "pid-limits" not in judged.policies("mandatory")
