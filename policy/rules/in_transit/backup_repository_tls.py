"""Backups never travel over plain http.

restic encrypts what it stores, but over plain http the server and anyone on the path see every
request and the REST/S3 credentials, and can replay or withhold what a restore reads. Judged
wherever a Command names a restic repository (create, update and delete, nested `bash -c`
programs included):
- `restic -r X` / `--repo X` (every pflag spelling), and `--insecure-tls` (no verification);
- `RESTIC_REPOSITORY` in the Command's `environment` or assigned in its program text (a shell
  variable, `export`, a `NAME=value` prefix, `env`/`sudo NAME=value`);
- the backup tool's parameter `EP_BACKUP_REPOSITORY`, which must be a repository the platform
  supports at all (a local path or sftp).
The decision is platform_rules/backup_repository.py's, shared with the settings: plain http
(`http://`, `rest:http://`, `s3:http://`) is refused everywhere, other backends only in the
platform's own backup tool. A value the reader cannot resolve fails closed.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis.backups import REPOSITORY_PARAMETER, backup_installs_of, environment_of, programs_of
from analysis.restic_cli import INSECURE_FLAGS, REPOSITORY_VARIABLE
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.shell_reading.expansion import Word
from analysis.stack import COMMANDS, Resource
from analysis.values import is_unknown

from platform_rules.backup_repository import plain_http, repository_problem

NAME = "backup-repository-tls"
FIX = (
    "back up to an sftp:USER@HOST:/PATH repository or a local path on another disk (or an https "
    "endpoint), never over plain http"
)
REPOSITORIES = frozenset({REPOSITORY_VARIABLE})


def _judge(r: Resource, where: str, word: Word) -> Iterator[Finding]:
    if not word.resolved:
        yield Finding(
            r,
            where,
            f"names the restic repository {word.raw}, which the reader cannot resolve, so whether it is "
            "reached over plain http cannot be verified (fail closed)",
            FIX,
            "backup-repository:unknown",
        )
    elif plain_http(str(word)):
        yield Finding(r, where, f"{repository_problem(str(word))}", FIX, "backup-repository:http")


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    env = environment_of(r)
    if is_unknown(env):
        yield unknown_finding(r, "environment", "whether it names a plain-http restic repository")
    elif env:
        value = env.get(REPOSITORY_VARIABLE)
        if is_unknown(value):
            yield unknown_finding(r, f"environment[{REPOSITORY_VARIABLE}]", "the restic repository")
        elif isinstance(value, str):
            yield from _judge(r, f"environment[{REPOSITORY_VARIABLE}]", Word(value))
    programs = programs_of(r)
    for field, call in programs.restic_calls():
        for word in call.values("--repo"):
            yield from _judge(r, f"{field} (restic -r)", word)
        for flag in sorted(call.flags & INSECURE_FLAGS):
            yield Finding(
                r,
                f"{field} (restic {flag})",
                f"runs `{call.text}`, which does not verify the repository's TLS certificate",
                "drop the flag and give restic the server's CA with --cacert",
                "backup-repository:insecure-tls",
            )
    for field, a in programs.assignments(REPOSITORIES):
        if a.value is not None:
            yield from _judge(r, f"{field} ({a.name} set by {a.how})", a.value)
    for install in backup_installs_of(r):
        where = f"{install.field} ({REPOSITORY_PARAMETER})"
        for v in install.parameters.get(REPOSITORY_PARAMETER, ()):
            if v is None:
                continue  # `export EP_BACKUP_REPOSITORY`: the value is assigned elsewhere
            if not v.resolved or plain_http(str(v)):
                yield from _judge(r, where, v)
                continue
            problem = repository_problem(str(v))
            if problem is not None:
                yield Finding(
                    r,
                    where,
                    f"is not a repository the backup tool supports: {problem}",
                    FIX,
                    "backup-repository:unsupported",
                )


RULE = Rule(
    name=NAME,
    description="Backup repositories are never reached over plain http (restic -r, RESTIC_REPOSITORY, EP_BACKUP_REPOSITORY).",
    enforcement="mandatory",
    scope="resource",
    resource_types=COMMANDS,
    check=check,
)
