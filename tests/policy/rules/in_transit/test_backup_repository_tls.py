"""Rule backup-repository-tls (policy/rules/in_transit/backup_repository_tls.py): its violating
programs (tests/support/programs/backup_repository_tls.py) are rejected; then the restic command
lines it reads and the repositories it accepts."""

from __future__ import annotations

import pulumi_command as command
import pytest
from analysis.restic_cli import parse_restic, restic_calls
from analysis.shell_reading.expansion import parse_program

from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs import Program
from tests.support.programs import backup_repository_tls as programs
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)
RULE = "backup-repository-tls"


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


@pytest.mark.parametrize(
    ("line", "repository"),
    [
        ("restic -r rest:http://h/x backup /d", "rest:http://h/x"),
        ("restic -rrest:http://h/x backup /d", "rest:http://h/x"),
        ("restic -r=rest:http://h/x backup /d", "rest:http://h/x"),
        ("restic --repo rest:http://h/x backup /d", "rest:http://h/x"),
        ("restic --repo=rest:http://h/x backup /d", "rest:http://h/x"),
        ("sudo -n -u root /usr/bin/restic backup /d -r rest:http://h/x", "rest:http://h/x"),
        ("sudo RESTIC_PASSWORD_FILE=/p restic -r /srv/b backup /d", "/srv/b"),
    ],
)
def test_every_spelling_of_the_repository_option_is_read(line: str, repository: str) -> None:
    program = parse_program(line)
    call = parse_restic(program.commands[0].argv, program.commands[0])
    assert call is not None
    assert [str(w) for w in call.values("--repo")] == [repository]
    assert call.subcommand == "backup"


def test_a_repository_in_a_variable_is_resolved_from_the_parameter_block() -> None:
    program = parse_program("REPO='s3:http://m/b'\nsudo -n bash -c \"restic -r $REPO snapshots\"\n")
    words = [w for c in restic_calls(program) for w in c.values("--repo")]
    assert [(str(w), w.resolved) for w in words] == [("s3:http://m/b", True)]


def _messages(pack: PolicyPackProcess, create: str, **kwargs: object) -> list[str]:
    def program() -> None:
        command.local.Command("backup", create=create, **kwargs)  # type: ignore[arg-type]

    verdict = evaluate(capture(program), pack=pack)
    return [d.message for d in verdict.by_policy(RULE)]


@pytest.mark.parametrize(
    "create",
    [
        "restic -r sftp:backup@backup.example.test:/srv/restic/ep --password-file /etc/restic/pw backup /srv/a/data",
        "restic -r /mnt/backup-disk/ep -p /etc/restic/pw backup /srv/a/data",
        "restic -r local:/mnt/backup-disk/ep -p /etc/restic/pw snapshots",
        "restic -r rest:https://backup.example.test/ep --cacert /etc/ssl/backup-ca.pem -p /p backup /srv/a",
        "export RESTIC_REPOSITORY=s3:https://s3.example.test/backups\nrestic -p /etc/restic/pw snapshots",
        "echo 'http://example.test is not a repository'",
    ],
)
def test_repositories_over_ssh_local_or_https_pass(pack: PolicyPackProcess, create: str) -> None:
    assert _messages(pack, create) == []


def test_a_repository_the_reader_cannot_resolve_fails_closed(pack: PolicyPackProcess) -> None:
    messages = _messages(pack, 'restic -r "$(cat /etc/restic/repo)" -p /p snapshots')
    assert len(messages) == 1 and "cannot resolve" in messages[0] and "Fix: " in messages[0], messages


def test_the_backup_tool_refuses_what_the_settings_refuse(pack: PolicyPackProcess) -> None:
    """EP_BACKUP_REPOSITORY is the platform's own tool: only local paths and sftp, even over https."""
    messages = _messages(pack, "EP_BACKUP_REPOSITORY='s3:https://s3.example.test/b'\nEP_BACKUP_VOLUMES='a'\n")
    assert len(messages) == 1 and "not supported" in messages[0], messages
