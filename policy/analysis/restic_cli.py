"""restic's command line and environment, as the backup rules read them: the global options
(restic 0.14 and later, pflag spellings `-r X`, `-rX`, `-r=X`, `--repo X`, `--repo=X`), the
environment variables that name the repository or carry the password, where a program assigns
them (a shell variable, `export`, a `NAME=value` prefix, `env`/`sudo NAME=value` in front of a
command), and whether a `--password-command` only prints a literal. Pure readers over the shell
reader's expanded words; what the calls mean for the stack is the rules'.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .shell_reading.expansion import Program, SimpleCommand, Word, parse_program
from .shell_reading.lexer import ASSIGNMENT, NAME_RE
from .shell_reading.wrappers import WRAPPERS, strip_wrappers

RESTIC = "restic"
REPOSITORY_VARIABLE = "RESTIC_REPOSITORY"
PASSWORD_VARIABLE = "RESTIC_PASSWORD"  # noqa: S105 - a variable name
PASSWORD_COMMAND_VARIABLE = "RESTIC_PASSWORD_COMMAND"  # noqa: S105 - a variable name
# Global options that take a value, by every spelling, normalised to the long one.
VALUE_OPTIONS = {
    "-r": "--repo",
    "--repo": "--repo",
    "--repository-file": "--repository-file",
    "-p": "--password-file",
    "--password-file": "--password-file",
    "--password-command": "--password-command",
    "--key-hint": "--key-hint",
    "--cacert": "--cacert",
    "--tls-client-cert": "--tls-client-cert",
    "--cache-dir": "--cache-dir",
    "-o": "--option",
    "--option": "--option",
    "--limit-upload": "--limit-upload",
    "--limit-download": "--limit-download",
    "--compression": "--compression",
    "--pack-size": "--pack-size",
}
SHORT_VALUE_OPTIONS = {k: v for k, v in VALUE_OPTIONS.items() if len(k) == 2}
# Flags that switch TLS certificate verification off for the repository (restic 0.16 and later).
INSECURE_FLAGS = frozenset({"--insecure-tls"})
_DECLARERS = frozenset({"export", "declare", "typeset", "readonly", "local"})


@dataclass
class ResticCall:
    """One run of restic: its options (last value wins, as pflag does), flags, the words after
    them, and the environment its command line gives it."""

    command: SimpleCommand
    options: dict[str, list[Word]] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    positional: list[Word] = field(default_factory=list)

    @property
    def subcommand(self) -> str:
        return str(self.positional[0]) if self.positional and self.positional[0].resolved else ""

    def values(self, option: str) -> list[Word]:
        return self.options.get(option, [])

    @property
    def text(self) -> str:
        text = " ".join(w if w.resolved else w.raw for w in self.command.argv)
        return text if len(text) <= 100 else text[:97] + "..."


@dataclass(frozen=True)
class Assignment:
    """A program's assignment of an environment variable (value None: `export NAME` alone)."""

    name: str
    value: Word | None
    how: str
    command: SimpleCommand


def parse_restic(argv: list[Word], command: SimpleCommand) -> ResticCall | None:
    """The restic call of a command line (wrappers and their environment in front), else None."""
    rest = [w for w in strip_wrappers(argv)]
    while rest and ASSIGNMENT.match(rest[0]):
        rest = strip_wrappers(rest[1:])  # `sudo NAME=value restic ...`
    if not rest or not rest[0].resolved or rest[0].rsplit("/", 1)[-1] != RESTIC:
        return None
    call = ResticCall(command)
    i = 1
    while i < len(rest):
        w = rest[i]
        if w == "--":
            call.positional.extend(rest[i + 1 :])
            break
        name, eq, value = str(w).partition("=")
        if w.startswith("--") and eq and name in VALUE_OPTIONS:
            call.options.setdefault(VALUE_OPTIONS[name], []).append(Word(value, w.resolved, w.raw))
        elif str(w) in VALUE_OPTIONS:
            if i + 1 < len(rest):
                call.options.setdefault(VALUE_OPTIONS[str(w)], []).append(rest[i + 1])
                i += 1
        elif not w.startswith("--") and w[:2] in SHORT_VALUE_OPTIONS and len(w) > 2:
            value = str(w)[3:] if w[2] == "=" else str(w)[2:]
            call.options.setdefault(SHORT_VALUE_OPTIONS[w[:2]], []).append(Word(value, w.resolved, w.raw))
        elif w.startswith("-") and len(w) > 1:
            call.flags.add(name)
        else:
            call.positional.append(w)
        i += 1
    return call


def _prefix_assignments(command: SimpleCommand) -> list[Assignment]:
    """`NAME=value cmd`, and `env`/`sudo` with `NAME=value` words in front of the command."""
    out = [Assignment(n, v, "a NAME=value prefix", command) for n, v in command.assignments]
    argv = command.argv
    i = 0
    while i < len(argv):
        w = argv[i]
        wrapper = w.rsplit("/", 1)[-1]
        if wrapper in WRAPPERS:
            i += 1
            while i < len(argv) and argv[i].startswith("-"):
                takes_value = argv[i] in WRAPPERS[wrapper] and "=" not in argv[i]
                i += 2 if takes_value else 1
            continue
        m = ASSIGNMENT.match(w)
        if m is None:
            break
        raw = ASSIGNMENT.match(w.raw)
        out.append(
            Assignment(
                m.group(1), Word(m.group(3), w.resolved, raw.group(3) if raw else w.raw), "env", command
            )
        )
        i += 1
    return out


def assignments(program: Program, names: frozenset[str]) -> list[Assignment]:
    """Every place the program (nested `bash -c` programs included) gives one of `names` a value
    or exports it: shell variables too, since `set -a` or a later `export` hands them on."""
    out: list[Assignment] = []
    for command in program.all_commands():
        if command.argv and command.argv[0] in _DECLARERS:
            for w in command.argv[1:]:
                m = ASSIGNMENT.match(w)
                name = m.group(1) if m else str(w)
                if name in names and (m or NAME_RE.fullmatch(name)):
                    value = Word(m.group(3), w.resolved, w.raw.split("=", 1)[-1]) if m else None
                    out.append(Assignment(name, value, f"`{command.argv[0]}`", command))
            continue
        if not command.argv:
            out.extend(
                Assignment(n, v, "a shell variable", command) for n, v in command.assignments if n in names
            )
            continue
        out.extend(a for a in _prefix_assignments(command) if a.name in names)
    return out


def restic_calls(program: Program) -> list[ResticCall]:
    """Every restic call of the program (nested `bash -c` programs included)."""
    out: list[ResticCall] = []
    for command in program.all_commands():
        call = parse_restic(command.argv, command) if command.argv else None
        if call is not None:
            out.append(call)
    return out


def prints_a_literal(password_command: str) -> bool:
    """True when a --password-command (or RESTIC_PASSWORD_COMMAND) prints literal text: an
    `echo`/`printf` of words without expansions, or `cat` of a literal here-document or
    here-string. Such a password sits in the command line, where `ps` and logs see it."""
    for command in parse_program(password_command).all_commands():
        argv = strip_wrappers(command.argv)
        if not argv:
            continue
        name = argv[0].rsplit("/", 1)[-1]
        words = [w for w in argv[1:] if not (w.startswith("-") and w.resolved)]
        if name in ("echo", "printf") and words and all(w.resolved and "$" not in w.raw for w in words):
            return True
        for r in command.redirects:
            if r.op in ("<<", "<<-") and r.heredoc and r.heredoc.strip() and "$" not in r.heredoc:
                return True
            if r.op == "<<<" and r.target.resolved and str(r.target) and "$" not in r.target.raw:
                return True
    return False
