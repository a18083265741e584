"""Rule memory-limits (policy/rules/advisory/memory_limits.py): its violating programs
(tests/support/programs/memory_limits.py) are rejected."""

from __future__ import annotations

import pytest

from tests.support.analyzer import PolicyPackProcess
from tests.support.programs import Program
from tests.support.programs import memory_limits as programs
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)
