"""Rule certificates (policy/rules/in_transit/certificates.py): its violating programs
(tests/support/programs/certificates.py) are rejected; then the rule's own tests (from
tests/policy/test_rule_logic.py)."""

from __future__ import annotations

import pytest
from analysis.stack import StackInfo
from rules.in_transit.certificates import is_production

from tests.support.analyzer import PolicyPackProcess
from tests.support.programs import Program
from tests.support.programs import certificates as programs
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


CERT_DEFAULTS = {
    "environment": "auto",
    "productionEnvironmentValues": ["prod", "production"],
    "productionStacks": ["prod", "production", "prod-*", "*-prod", "*-production"],
}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("info", "config", "production"),
    [
        (StackInfo(stack="dev", config={"encrypted-platform:environment": "dev"}), {}, False),
        (StackInfo(stack="prod"), {}, True),
        (StackInfo(stack="eu-prod"), {}, True),
        (
            StackInfo(
                stack="live", project="encrypted-platform", config={"encrypted-platform:environment": "prod"}
            ),
            {},
            True,
        ),
        (StackInfo(stack="qa"), {"environment": "prod"}, True),
        (StackInfo(), {}, True),  # the engine said nothing: fail closed
    ],
)
def test_production_detection(info: StackInfo, config: dict[str, str], production: bool) -> None:
    assert is_production(info, {**CERT_DEFAULTS, **config})[0] is production
