"""Rule read-only-root-filesystem (policy/rules/advisory/read_only_root_filesystem.py): its violating
programs (tests/support/programs/read_only_root_filesystem.py) are rejected."""

from __future__ import annotations

import pytest

from tests.support.analyzer import PolicyPackProcess
from tests.support.programs import Program
from tests.support.programs import read_only_root_filesystem as programs
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)
