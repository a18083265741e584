"""Rule pid-limits (policy/rules/advisory/pid_limits.py): its violating programs
(tests/support/programs/pid_limits.py) are rejected; then the rule's own tests (from
tests/policy/test_workload_hardening.py)."""

from __future__ import annotations

import pulumi
import pulumi_command as command
import pytest

from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs import Program
from tests.support.programs import pid_limits as programs
from tests.support.programs.baseline import app, internal_network, luks_volume
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


def _app_with_pid_limit(depends: bool, limit: str = "128") -> None:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    container = app(net, vol)
    command.local.Command(
        "app-pids-limit",
        create=f"docker -H unix:///var/run/docker.sock update --pids-limit {limit} app",
        opts=pulumi.ResourceOptions(depends_on=[container] if depends else []),
    )


def _messages(verdict: object, policy: str) -> list[str]:
    return [d.message for d in verdict.by_policy(policy)]  # type: ignore[attr-defined]


def test_a_docker_update_command_that_depends_on_the_container_is_its_pid_limit(
    pack: PolicyPackProcess,
) -> None:
    limited = evaluate(capture(lambda: _app_with_pid_limit(True)), pack=pack)
    assert not [m for m in _messages(limited, "pid-limits") if "'app'" in m], limited.describe()
    assert "commands-create-no-workloads" not in limited.policies()
    unordered = evaluate(capture(lambda: _app_with_pid_limit(False)), pack=pack)
    assert any("does not depend on it" in m for m in _messages(unordered, "pid-limits")), unordered.describe()
    unlimited = evaluate(capture(lambda: _app_with_pid_limit(True, "-1")), pack=pack)
    assert any("has no PID limit" in m for m in _messages(unlimited, "pid-limits")), unlimited.describe()
