"""Rule backups-cover-stateful-volumes (policy/rules/at_rest/backups_cover_stateful_volumes.py):
its violating program (tests/support/programs/backups_cover_stateful_volumes.py) is rejected;
then what counts as covered, and that only production stacks are judged."""

from __future__ import annotations

from collections.abc import Callable

import pulumi_command as command
import pytest

from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs import Program
from tests.support.programs import backups_cover_stateful_volumes as programs
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)
RULE = "backups-cover-stateful-volumes"
REPOSITORY = "sftp:backup@backup.example.test:/srv/restic/ep"


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


def _findings(pack: PolicyPackProcess, program: Callable[[], None], stack: str = "prod") -> list[str]:
    verdict = evaluate(capture(program, stack=stack), pack=pack)
    return [f"{d.level}: {d.message}" for d in verdict.by_policy(RULE)]


def _with(create: str) -> Callable[[], None]:
    def program() -> None:
        programs.database_platform()
        command.local.Command("backup", create=create)

    return program


def test_an_uncovered_volume_is_an_advisory_finding_in_prod_only(pack: PolicyPackProcess) -> None:
    found = _findings(pack, programs.database_platform)
    assert len(found) == 1 and found[0].startswith("advisory: ") and "PostgreSQL" in found[0], found
    assert "Fix: " in found[0]
    assert _findings(pack, programs.database_platform, stack="dev") == []


@pytest.mark.parametrize(
    "create",
    [
        f"EP_BACKUP_REPOSITORY='{REPOSITORY}'\nEP_BACKUP_VOLUMES='appdata dbdata'\n",
        f"restic -r {REPOSITORY} -p /etc/restic/pw backup /srv/dbdata",
    ],
    ids=["backup-install", "restic-backup"],
)
def test_a_backup_install_or_a_restic_backup_covers_the_volume(pack: PolicyPackProcess, create: str) -> None:
    assert _findings(pack, _with(create)) == []


def test_a_backup_of_another_directory_does_not_cover_it(pack: PolicyPackProcess) -> None:
    found = _findings(pack, _with(f"restic -r {REPOSITORY} -p /etc/restic/pw backup /srv/other"))
    assert len(found) == 1 and "no backup of the stack covers it" in found[0], found


def test_an_unresolved_volume_list_fails_closed(pack: PolicyPackProcess) -> None:
    found = _findings(pack, _with('EP_BACKUP_VOLUMES="$(cat /etc/volumes)"\n'))
    assert any("is unknown at preview" in f for f in found), found
