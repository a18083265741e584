"""Backup facts read from the Commands of a stack: the restic calls of every program, the
environment each Command gives restic, and the platform's backup installs.

A backup install is a Command whose program carries the backup tool's parameter block
(`EP_BACKUP_REPOSITORY=...`, `EP_BACKUP_VOLUMES=...`, `EP_BACKUP_PASSWORD_FILE=...` lines, as
components/at_rest/backup_scripts.py renders them). Generic otherwise: a teammate's
`restic -r sftp:... backup /srv/appdata/data` is read the same way (create, update and delete,
nested `bash -c` programs included).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .restic_cli import Assignment, ResticCall, assignments, restic_calls
from .shell_reading.expansion import Program, Word, parse_program
from .stack import COMMANDS, Resource, StackModel
from .values import is_unknown

PROGRAM_FIELDS = ("create", "update", "delete")
REPOSITORY_PARAMETER = "EP_BACKUP_REPOSITORY"
VOLUMES_PARAMETER = "EP_BACKUP_VOLUMES"
PASSWORD_FILE_PARAMETER = "EP_BACKUP_PASSWORD_FILE"  # noqa: S105 - a parameter name
BACKUP_PARAMETERS = frozenset({REPOSITORY_PARAMETER, VOLUMES_PARAMETER, PASSWORD_FILE_PARAMETER})


@lru_cache(maxsize=64)
def parsed(text: str) -> Program:
    return parse_program(text)


@dataclass(frozen=True)
class ProgramText:
    field: str
    program: Program


@dataclass(frozen=True)
class CommandPrograms:
    resource: Resource
    unknown_fields: tuple[str, ...]
    programs: tuple[ProgramText, ...]

    def restic_calls(self) -> list[tuple[str, ResticCall]]:
        return [(p.field, c) for p in self.programs for c in restic_calls(p.program)]

    def assignments(self, names: frozenset[str]) -> list[tuple[str, Assignment]]:
        return [(p.field, a) for p in self.programs for a in assignments(p.program, names)]


def programs_of(resource: Resource) -> CommandPrograms:
    """The Command's programs (one per distinct text), and the program fields unknown at preview."""
    unknown: list[str] = []
    programs: list[ProgramText] = []
    seen: set[str] = set()
    for name in PROGRAM_FIELDS:
        text: Any = resource.props.get(name)
        if is_unknown(text):
            unknown.append(name)
            continue
        if not isinstance(text, str) or not text.strip() or text in seen:
            continue
        seen.add(text)
        programs.append(ProgramText(name, parsed(text)))
    return CommandPrograms(resource, tuple(unknown), tuple(programs))


def environment_of(resource: Resource) -> Any:
    """The Command's `environment` (dict, UNKNOWN, or None)."""
    env = resource.props.get("environment")
    return env if is_unknown(env) or isinstance(env, dict) else None


@dataclass(frozen=True)
class BackupInstall:
    """A Command carrying the backup tool's parameter block; each parameter as every assignment
    of it (several or unresolved ones: the reader cannot tell which value the tool gets)."""

    resource: Resource
    field: str
    parameters: dict[str, tuple[Word | None, ...]]

    def value(self, name: str) -> Word | None:
        """The parameter's one proven value, else None (missing, several, or unresolved)."""
        values = {(str(v), v.resolved) for v in self.parameters.get(name, ()) if v is not None}
        if len(values) != 1:
            return None
        text, resolved = values.pop()
        return Word(text) if resolved else None

    def assigned(self, name: str) -> bool:
        return bool(self.parameters.get(name))


def backup_installs_of(resource: Resource) -> list[BackupInstall]:
    """The backup installs among the Command's programs (one per program field)."""
    out: list[BackupInstall] = []
    for p in programs_of(resource).programs:
        params: dict[str, list[Word | None]] = {}
        for a in assignments(p.program, BACKUP_PARAMETERS):
            params.setdefault(a.name, []).append(a.value)
        if params:
            out.append(BackupInstall(resource, p.field, {k: tuple(v) for k, v in params.items()}))
    return out


def backup_installs(model: StackModel) -> list[BackupInstall]:
    return [b for r in model.of_type(*COMMANDS) for b in backup_installs_of(r)]


def unknown_backup_commands(model: StackModel) -> list[tuple[Resource, str]]:
    """Commands whose create or update program is unknown at preview: any of them may be a backup
    install."""
    return [(r, f) for r in model.of_type(*COMMANDS) for f in programs_of(r).unknown_fields if f != "delete"]
