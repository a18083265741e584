"""The hardening rules at KICS parity that are advisory in the pack (PID limits, dropped
capabilities, CPU limits, cgroup parent): what counts as evidence, over the Analyzer protocol,
and the project's stack configs that make dropped capabilities mandatory."""

from __future__ import annotations

import json

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pytest

from tests.support.analyzer import POLICY_DIR, PolicyPackProcess, capture, evaluate
from tests.support.programs.baseline import app, internal_network, luks_volume

pytestmark = pytest.mark.policy


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
