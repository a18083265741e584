"""`make backup-now|restore|backup-drill|backup-snapshots STACK=...`: the stack's backup tool
(`encrypted-platform-backup`, installed on the Docker host by the program's backup Command) run
on the stack's host the way the program reaches it (scripts/host_access.py: `sudo -n` on this
machine, or ssh with the stack's deploy key and pinned host key).

    python -m scripts.backups now STACK
    python -m scripts.backups snapshots STACK [VOLUME]
    python -m scripts.backups restore STACK VOLUME SNAPSHOT     (asks first, unless YES=1)
    python -m scripts.backups drill STACK [VOLUME]

It reads Pulumi.<stack>.yaml through the settings models (as `make show` does); no engine, no
state, no secret: the repository password never leaves the host's root-only file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from components.at_rest.backup_scripts import BackupHostPaths
from components.settings import SettingsError, StackSettings, parse_settings
from components.settings.backups import backup_volume_names
from scripts.host_access import host_argv as host_argv_of
from scripts.show_stack import stack_config

ACTIONS = {"now": "backup", "snapshots": "snapshots", "restore": "restore", "drill": "drill"}
# A restic snapshot id (8 to 64 hex digits) or `latest`: it reaches a root program's argv.
_SNAPSHOT = re.compile(r"latest|[0-9a-f]{8,64}")
USAGE = (
    "usage: python -m scripts.backups now STACK\n"
    "       python -m scripts.backups snapshots|drill STACK [VOLUME]\n"
    "       python -m scripts.backups restore STACK VOLUME SNAPSHOT"
)


class UsageError(Exception):
    pass


def tool_arguments(action: str, settings: StackSettings, extra: Sequence[str]) -> list[str]:
    """The tool's subcommand and arguments, each checked against the stack's settings."""
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}")
    volumes = backup_volume_names(settings)
    arguments = [ACTIONS[action]]
    if action == "now":
        if extra:
            raise UsageError("now takes no VOLUME or SNAPSHOT")
        return arguments
    if action == "restore":
        if len(extra) != 2:
            raise UsageError(
                "restore needs VOLUME and SNAPSHOT (a snapshot id from `make backup-snapshots`, or latest)"
            )
        volume, snapshot = extra
        if not _SNAPSHOT.fullmatch(snapshot):
            raise UsageError(f"SNAPSHOT must be a restic snapshot id (hex) or latest, got {snapshot!r}")
        extra = [volume]
        arguments.append(snapshot)
    if len(extra) > 1:
        raise UsageError(f"{action} takes at most one VOLUME")
    for volume in extra:
        if volume not in volumes:
            raise UsageError(
                f"VOLUME {volume!r} is not backed up by this stack (backed up: {', '.join(volumes)})"
            )
    return [arguments[0], *extra, *arguments[1:]]


def host_argv(
    settings: StackSettings, stack: str, tool_args: Sequence[str], *, euid: int | None = None
) -> list[str]:
    """The argv that runs the tool with `tool_args` on the stack's host."""
    return host_argv_of(settings, stack, [BackupHostPaths().tool, *tool_args], euid=euid)


def confirmed(question: str, *, environ: dict[str, str], ask: Callable[[str], str]) -> bool:
    if environ.get("YES") == "1":
        return True
    try:
        return ask(f"{question} Type yes to go on: ").strip() == "yes"
    except EOFError:
        return False


def main(
    argv: Sequence[str],
    *,
    run: Callable[[list[str]], int] = lambda argv: subprocess.call(argv),
    environ: dict[str, str] | None = None,
    ask: Callable[[str], str] = input,
    config_of: Callable[[str], dict[str, Any]] = stack_config,
) -> int:
    if len(argv) < 2:
        print(USAGE, file=sys.stderr)
        return 2
    action, stack, *extra = argv
    try:
        settings = parse_settings(config_of(stack), stack=stack)
    except SettingsError as error:
        print(f"error: Pulumi.{stack}.yaml: {error}", file=sys.stderr)
        return 1
    if not settings.backups.enabled:
        print(
            f"error: stack {stack} has no backups (set backups.enabled: see docs/backups.md)", file=sys.stderr
        )
        return 1
    try:
        arguments = tool_arguments(action, settings, extra)
    except UsageError as error:
        print(f"error: {error}\n{USAGE}", file=sys.stderr)
        return 2
    if action == "restore":
        volume, snapshot = extra
        question = (
            f"Restore snapshot {snapshot} of volume {volume} on stack {stack}: its containers stop, the "
            "current data is kept beside the restored copy (data.before-restore.<time>), then they start."
        )
        if not confirmed(question, environ=dict(os.environ if environ is None else environ), ask=ask):
            print("not restored", file=sys.stderr)
            return 1
    return run(host_argv(settings, stack, arguments))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
