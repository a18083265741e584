"""Rule backup-password-secret (policy/rules/at_rest/backup_password_secret.py): its violating
programs (tests/support/programs/backup_password_secret.py) are rejected; then where the rule
finds a password and what it accepts."""

from __future__ import annotations

import pulumi
import pulumi_command as command
import pytest
from analysis.restic_cli import PASSWORD_VARIABLE, assignments, prints_a_literal
from analysis.shell_reading.expansion import parse_program

from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs import Program
from tests.support.programs import backup_password_secret as programs
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)
RULE = "backup-password-secret"
REPOSITORY = "sftp:backup@backup.example.test:/srv/restic/ep"
PASSWORD_FILE = "/srv/secrets/data/backup/repository-password"


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


@pytest.mark.parametrize(
    ("text", "how"),
    [
        ("RESTIC_PASSWORD=x\n", "a shell variable"),
        ("export RESTIC_PASSWORD\n", "`export`"),
        ("declare -x RESTIC_PASSWORD=x\n", "`declare`"),
        ("RESTIC_PASSWORD=x restic snapshots\n", "a NAME=value prefix"),
        ("sudo -u root env -i RESTIC_PASSWORD=x restic snapshots\n", "env"),
        ("bash -c 'sudo RESTIC_PASSWORD=x restic snapshots'\n", "env"),
    ],
)
def test_every_way_a_program_sets_the_password_variable_is_found(text: str, how: str) -> None:
    found = assignments(parse_program(text), frozenset({PASSWORD_VARIABLE}))
    assert [a.how for a in found] == [how]


@pytest.mark.parametrize(
    ("password_command", "literal"),
    [
        ("echo hunter2", True),
        ("printf '%s' hunter2", True),
        ("cat <<'EOF'\nhunter2\nEOF", True),
        ("cat <<< hunter2", True),
        ("cat /etc/restic/pw", False),
        ('printf "%s" "$PW"', False),
        ("pass show backups/restic", False),
    ],
)
def test_a_password_command_printing_a_literal_is_recognised(password_command: str, literal: bool) -> None:
    assert prints_a_literal(password_command) is literal


def _messages(pack: PolicyPackProcess, program: object) -> list[str]:
    verdict = evaluate(capture(program), pack=pack)  # type: ignore[arg-type]
    return [d.message for d in verdict.by_policy(RULE)]


@pytest.mark.parametrize(
    "create",
    [
        f"restic -r {REPOSITORY} --password-file /etc/restic/pw backup /srv/a/data",
        f"RESTIC_PASSWORD_FILE=/etc/restic/pw restic -r {REPOSITORY} backup /srv/a/data",
        f"export RESTIC_PASSWORD_FILE={PASSWORD_FILE}\nrestic -r /mnt/backup-disk/ep snapshots",
        f"restic -r {REPOSITORY} --password-command 'cat /etc/restic/pw' snapshots",
        f"IFS= read -r PW\nprintf '%s' \"$PW\" | restic -r {REPOSITORY} -p /dev/stdin snapshots",
    ],
)
def test_a_password_from_a_file_or_stdin_passes(pack: PolicyPackProcess, create: str) -> None:
    assert _messages(pack, lambda: command.local.Command("backup", create=create)) == []


def test_a_password_file_written_from_a_secret_passes(pack: PolicyPackProcess) -> None:
    def program() -> None:
        command.local.Command(
            "backup-password-file",
            create=f"install -m 0400 /dev/stdin {PASSWORD_FILE}\n",
            stdin=pulumi.Output.secret("correct-horse-battery"),
        )
        command.local.Command(
            "backup-install",
            create=f"EP_BACKUP_PASSWORD_FILE='{PASSWORD_FILE}'\nEP_BACKUP_VOLUMES='appdata'\n",
        )

    assert _messages(pack, program) == []
