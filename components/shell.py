"""Rendering shell programs from the script files under components/scripts/ (pure functions).

A rendered program is: a header (bash, strict mode), a parameter block of single-quoted
assignments (plain values only, never a secret), the function libraries, then one program body.
Secrets travel on stdin. `invocation` is the command line a Pulumi Command runs.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

SCRIPTS_ROOT = Path(__file__).parent / "scripts"
_PARAMETER_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def single_quoted(value: str) -> str:
    """Always single-quoted, so every parameter line starts the same way (NAME='value'). Inside
    single quotes bash takes every character literally (`$`, backquotes, backslashes, newlines);
    only `'` itself needs care: close, an escaped quote, reopen. NUL cannot be in a program text."""
    if "\0" in value:
        raise ValueError("a NUL byte cannot be passed to a shell program")
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
    *,
    secrets_on_stdin: bool = True,
) -> str:
    origin = "# Rendered from components/scripts by encrypted-platform"
    header = "\n".join(
        [
            "#!/usr/bin/env bash",
            f"# {' '.join(title.split())}",
            f"{origin}; secrets arrive on stdin only." if secrets_on_stdin else f"{origin}.",
            "set -euo pipefail",
            "umask 077",
            "export LC_ALL=C",
        ]
    )
    parts = [header]
    if params:
        # Every program gets its whole parameter block, used or not (SC2034); a `$`, backquote or
        # backslash in a value is literal text on purpose (SC2016, SC1003).
        block = ["# shellcheck disable=SC2034,SC2016,SC1003", "{"]
        for key in params:
            if not _PARAMETER_NAME.fullmatch(key):
                raise ValueError(f"not a shell variable name: {key!r}")
        block += [f"{key}={single_quoted(value)}" for key, value in params.items()]
        block += ["}"]
        parts.append("\n".join(block))
    parts += [strip_header(path.read_text()) for path in libraries]
    parts += list(extra)
    parts.append(strip_header(body))
    return "\n\n".join(part.strip("\n") for part in parts) + "\n"


def invocation(program_text: str, name: str, *, become: bool = False) -> str:
    """The command line for a Pulumi Command: bash runs the program whatever the login shell."""
    prefix = "sudo -n " if become else ""
    return f"{prefix}bash -c {shlex.quote(program_text)} {shlex.quote(name)}"
