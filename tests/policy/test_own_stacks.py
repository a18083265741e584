"""The project's own stacks pass every mandatory policy: previews (values a provider computes
are unknown), updates (everything known), and with every input marked secret."""

from __future__ import annotations

import pytest

from tests.support.analyzer import CapturedStack, PolicyPackProcess, capture, evaluate, load_stack_config

pytestmark = pytest.mark.policy

SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-only\n-----END OPENSSH PRIVATE KEY-----"
_cache: dict[tuple[str, bool], CapturedStack] = {}


def own_stack(stack: str, preview: bool) -> CapturedStack:
    key = (stack, preview)
    if key not in _cache:
        secret = {"sshPrivateKey": SSH_KEY} if stack == "prod" else None
        _cache[key] = capture(
            config=load_stack_config(stack), secret_config=secret, stack=stack, preview=preview
        )
    return _cache[key]


@pytest.mark.parametrize("all_secret", [False, True], ids=["plain", "all-secret"])
@pytest.mark.parametrize("variant", ["preview", "update"])
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_own_stack_has_no_mandatory_violation(
    pack: PolicyPackProcess, stack: str, variant: str, all_secret: bool
) -> None:
    captured = own_stack(stack, variant == "preview")
    verdict = evaluate(captured, all_secret=all_secret, pack=pack)
    assert not verdict.mandatory(), verdict.describe()
    # The pack really looked at the stack: advisory findings name its containers, and nothing crashed.
    assert not [d for d in verdict.diagnostics if "could not evaluate" in d.message], verdict.describe()


def test_own_stacks_are_what_the_rules_expect(pack: PolicyPackProcess) -> None:
    """Guards the test above against passing vacuously: the dev stack has LUKS commands, volumes
    bound into their mounts, and workloads that mount them."""
    captured = own_stack("dev", True)
    types = [r.type for r in captured.resources]
    assert types.count("docker:index/volume:Volume") >= 5
    assert types.count("command:local:Command") >= 5
    mounted = {
        m.get("source")
        for r in captured.resources
        if r.type == "docker:index/container:Container"
        for m in r.inputs.get("mounts", [])
        if m.get("type") == "volume"
    }
    volumes = {r.inputs.get("name") for r in captured.resources if r.type == "docker:index/volume:Volume"}
    if any(t == "docker:index/container:Container" for t in types):
        assert mounted and mounted <= volumes
