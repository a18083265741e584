"""Rendering shell programs from the script files under components/scripts/ (pure functions).

A rendered program is: a header (bash, strict mode), a parameter block of single-quoted
assignments (plain values only, never a secret), the function libraries, then one program body.
Secrets travel on stdin. `invocation` is the command line a Pulumi Command runs.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

SCRIPTS_ROOT = Path(__file__).parent / "scripts"


def single_quoted(value: str) -> str:
    """Always single-quoted, so every parameter line has the same shape (NAME='value')."""
    return "'" + value.replace("'", "'\\''") + "'"


def strip_header(text: str) -> str:
    """Drops a leading shebang and shellcheck shell directive of a library file."""
    lines = text.splitlines()
    while lines and (lines[0].startswith("#!") or lines[0].startswith("# shellcheck shell=")):
        lines.pop(0)
    return "\n".join(lines).strip("\n") + "\n"


def heredoc_function(name: str, body: str, marker: str) -> str:
    """A shell function that prints `body` verbatim (to install a file shipped inside a program)."""
    if marker in body:
        raise ValueError(f"{marker} occurs in the embedded text")
    return f"{name}() {{\n  cat <<'{marker}'\n{body.rstrip()}\n{marker}\n}}\n"


def render_shell_program(
    title: str,
    params: Mapping[str, str],
    libraries: Iterable[Path],
    body: str,
    extra: Iterable[str] = (),
) -> str:
    header = "\n".join(
        [
            "#!/usr/bin/env bash",
            f"# {title}",
            "# Rendered from components/scripts by encrypted-platform; secrets arrive on stdin only.",
            "set -euo pipefail",
            "umask 077",
            "export LC_ALL=C",
        ]
    )
    # Every program gets its whole parameter block, used or not.
    block = ["# shellcheck disable=SC2034", "{"]
    block += [f"{key}={single_quoted(value)}" for key, value in params.items()]
    block += ["}"]
    parts = [header, "\n".join(block)]
    parts += [strip_header(path.read_text()) for path in libraries]
    parts += list(extra)
    parts.append(strip_header(body))
    return "\n\n".join(part.strip("\n") for part in parts) + "\n"


def invocation(program_text: str, name: str, *, become: bool = False) -> str:
    """The command line for a Pulumi Command: bash runs the program whatever the login shell."""
    prefix = "sudo -n " if become else ""
    return f"{prefix}bash -c {shlex.quote(program_text)} {shlex.quote(name)}"
