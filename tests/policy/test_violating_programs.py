"""Every violating program (raw pulumi_docker / pulumi_command, as a careless teammate writes them)
is rejected by the right policy, on the right resource, in preview and update; a program that is
the compliant baseline plus one mistake is rejected by that policy only."""

from __future__ import annotations

import pytest

from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs import Program, all_programs
from tests.support.programs.baseline import compliant

pytestmark = pytest.mark.policy

PROGRAMS = all_programs()
CASES = [pytest.param(p, v, id=f"{p.name}[{v}]") for p in PROGRAMS for v in p.variants]


def test_enough_programs_for_every_rule() -> None:
    assert len(PROGRAMS) >= 40
    covered = {rule for p in PROGRAMS for rule in p.expect}
    assert covered >= {
        "encrypted-volumes",
        "no-host-paths",
        "tls-only-routes",
        "ingress-only-through-edge",
        "network-isolation",
        "outbound-tls",
        "security-headers",
        "certificates",
        "luks-parameters",
        "container-hardening",
    }


@pytest.mark.parametrize("variant", ["preview", "update"])
def test_compliant_baseline_passes_everything(pack: PolicyPackProcess, variant: str) -> None:
    verdict = evaluate(capture(compliant, preview=variant == "preview"), pack=pack)
    assert verdict.diagnostics == [], verdict.describe()


@pytest.mark.parametrize(("program", "variant"), CASES)
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    captured = capture(
        program.run, stack=program.stack, config=program.stack_config, preview=variant == "preview"
    )
    verdict = evaluate(captured, file_config=program.pack_config or None, pack=pack)
    got = verdict.policies("mandatory")
    assert program.expect <= got, f"{program.note}\n{verdict.describe()}"
    if program.exact:
        assert got == program.expect, f"other policies fired:\n{verdict.describe()}"
    if program.resource is not None:
        named = {d.resource_name for d in verdict.mandatory() if d.policy in program.expect}
        assert program.resource in named, verdict.describe()
    assert not [d for d in verdict.diagnostics if "could not evaluate" in d.message], verdict.describe()
    for d in verdict.mandatory():
        assert "Fix: " in d.message, d.message
