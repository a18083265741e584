"""Rule no-host-paths (policy/rules/isolation/no_host_paths.py): its violating programs
(tests/support/programs/no_host_paths.py) are rejected; then the rule's own tests (from
tests/policy/test_rule_logic.py)."""

from __future__ import annotations

import pytest
from rules.isolation.no_host_paths import exposes_engine_socket

from tests.support.analyzer import PolicyPackProcess
from tests.support.programs import Program
from tests.support.programs import no_host_paths as programs
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


@pytest.mark.unit
def test_docker_socket_paths() -> None:
    assert exposes_engine_socket("/var/run/docker.sock")
    assert exposes_engine_socket("/var/run")
    assert exposes_engine_socket("/")
    assert exposes_engine_socket("/home/me/.docker/run/docker.sock")
    assert not exposes_engine_socket("/etc/ssl/certs/ca-certificates.crt")
