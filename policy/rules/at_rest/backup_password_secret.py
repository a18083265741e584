"""restic's repository password reaches it only from a file or stdin, and is a secret.

Whoever has the repository password and the repository has every volume's data. In an
environment variable it is readable in /proc/<pid>/environ, inherited by every child, and in the
Command's inputs; in a command line `ps` and logs see it. Violations:
- `RESTIC_PASSWORD` in a Command's `environment`, or set in its program text (a shell variable,
  `export`, a `NAME=value` prefix, `env`/`sudo NAME=value`): any value, even a secret one;
- a `--password-command` (or `RESTIC_PASSWORD_COMMAND`) that prints a literal;
- the backup tool's password file (`EP_BACKUP_PASSWORD_FILE` of a backup install) written by a
  Command of the stack from anything but a secret: a plain stdin or a literal of the program.
`--password-file` / `-p` and `RESTIC_PASSWORD_FILE` (a path, not key material) are the way.
A writer whose content is unknown at preview (a generated password) is judged at update.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from analysis.backups import PASSWORD_FILE_PARAMETER, backup_installs, environment_of, programs_of
from analysis.container_files import command_writes
from analysis.restic_cli import PASSWORD_COMMAND_VARIABLE, PASSWORD_VARIABLE, prints_a_literal
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import COMMANDS, Resource, StackModel
from analysis.values import is_unknown

NAME = "backup-password-secret"
FIX = (
    "give restic the password with --password-file (or RESTIC_PASSWORD_FILE) naming a root-only file "
    "written from a Pulumi secret on the Command's stdin, or on restic's stdin"
)
PASSWORD_VARIABLES = frozenset({PASSWORD_VARIABLE, PASSWORD_COMMAND_VARIABLE})


def _environment(r: Resource) -> Iterator[Finding]:
    env = environment_of(r)
    if is_unknown(env):
        yield unknown_finding(r, "environment", "whether it hands restic its password")
        return
    if not env:
        return
    if PASSWORD_VARIABLE in env:
        yield Finding(
            r,
            f"environment[{PASSWORD_VARIABLE}]",
            "gives restic its repository password in the environment (readable in /proc/<pid>/environ, "
            "inherited by every child)",
            FIX,
            "backup-password:env",
        )
    command = env.get(PASSWORD_COMMAND_VARIABLE)
    if is_unknown(command):
        yield unknown_finding(r, f"environment[{PASSWORD_COMMAND_VARIABLE}]", "where the password comes from")
    elif isinstance(command, str) and prints_a_literal(command):
        yield Finding(
            r,
            f"environment[{PASSWORD_COMMAND_VARIABLE}]",
            "is a password command that prints a literal: the password sits in the Command's inputs",
            FIX,
            "backup-password:literal",
        )


def _programs(r: Resource) -> Iterator[Finding]:
    programs = programs_of(r)
    for field, a in programs.assignments(PASSWORD_VARIABLES):
        if a.name == PASSWORD_VARIABLE:
            yield Finding(
                r,
                f"{field} ({a.name} set by {a.how})",
                "hands restic its repository password in the environment (readable in /proc/<pid>/environ, "
                "inherited by every child)",
                FIX,
                "backup-password:env",
            )
        elif a.value is not None and (not a.value.resolved or prints_a_literal(str(a.value))):
            problem = (
                "is a password command that prints a literal"
                if a.value.resolved
                else f"is a password command the reader cannot resolve ({a.value.raw}; fail closed)"
            )
            yield Finding(r, f"{field} ({a.name} set by {a.how})", problem, FIX, "backup-password:literal")
    for field, call in programs.restic_calls():
        for word in call.values("--password-command"):
            if not word.resolved:
                yield Finding(
                    r,
                    f"{field} (restic --password-command)",
                    f"runs a password command the reader cannot resolve ({word.raw}; fail closed)",
                    FIX,
                    "backup-password:unknown",
                )
            elif prints_a_literal(str(word)):
                yield Finding(
                    r,
                    f"{field} (restic --password-command)",
                    "prints a literal password: it sits in the program text, `ps` and logs",
                    FIX,
                    "backup-password:literal",
                )


def _password_files(model: StackModel) -> Iterator[Finding]:
    files = {
        posixpath.normpath(str(v))
        for install in backup_installs(model)
        for v in install.parameters.get(PASSWORD_FILE_PARAMETER, ())
        if v is not None and v.resolved and str(v).startswith("/")
    }
    if not files:
        return
    for r in model.of_type(*COMMANDS):
        for writes in command_writes(r):
            for f in writes.files:
                if f.tree or posixpath.normpath(f.path) not in files or is_unknown(f.content):
                    continue
                if isinstance(f.content, str) and f.content in r.secrets:
                    continue
                yield Finding(
                    r,
                    f.field,
                    f"writes the backup repository password file {f.path} from {f.how}, which is not a "
                    "secret: the password is in the stack's inputs and state in plain text",
                    "write it from a Pulumi secret on the Command's stdin (pulumi.Output.secret, or a "
                    "random.RandomPassword's result)",
                    "backup-password:plain",
                )


def check(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    assert model is not None
    for r in model.of_type(*COMMANDS):
        yield from _environment(r)
        yield from _programs(r)
    yield from _password_files(model)


RULE = Rule(
    name=NAME,
    description="restic's repository password only from a root-only file or stdin, written from a secret.",
    enforcement="mandatory",
    scope="stack",
    check=check,
)
