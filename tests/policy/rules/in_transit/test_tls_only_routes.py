"""Rule tls-only-routes (policy/rules/in_transit/tls_only_routes.py): its violating programs
(tests/support/programs/tls_only_routes.py and tls_only_routes_traefik_sources.py) are rejected."""

from __future__ import annotations

import pytest

from tests.support.analyzer import PolicyPackProcess
from tests.support.programs import Program, tls_only_routes, tls_only_routes_traefik_sources
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(tls_only_routes, tls_only_routes_traefik_sources)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)
