"""The violating programs as a whole (raw pulumi_docker / pulumi_command, as a careless teammate
writes them): enough of them for every rule, and the compliant baseline they start from passes
every policy. Each rule's test file (tests/policy/rules/<concern>/test_<rule>.py) runs the programs
of its own module through tests/support/rejections.py."""

from __future__ import annotations

import pytest

from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs import all_programs
from tests.support.programs.baseline import compliant

pytestmark = pytest.mark.policy

PROGRAMS = all_programs()


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
