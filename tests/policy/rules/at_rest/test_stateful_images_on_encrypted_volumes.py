"""Rule stateful-images-on-encrypted-volumes
(policy/rules/at_rest/stateful_images_on_encrypted_volumes.py): its violating programs
(tests/support/programs/stateful_images_on_encrypted_volumes.py) are rejected."""

from __future__ import annotations

import pytest

from tests.support.analyzer import PolicyPackProcess
from tests.support.programs import Program
from tests.support.programs import stateful_images_on_encrypted_volumes as programs
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)
