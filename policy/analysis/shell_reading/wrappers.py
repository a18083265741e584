"""Wrappers in front of a command: `sudo`, `env`, `exec`, `timeout`, ... (with their options),
and the program of a shell run as `[wrappers] bash -c '<program>' name`.
"""

from __future__ import annotations

from typing import TypeVar

from .lexer import ASSIGNMENT

# Plain or expanded words: strip_wrappers returns the words it was given, so expanded words
# keep what the expander proved about them.
AnyWord = TypeVar("AnyWord", bound=str)

SHELLS = frozenset({"bash", "sh", "dash", "zsh", "ash", "ksh"})
# Wrappers that run their remaining arguments as a command (with their own options first).
WRAPPERS = {
    "sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "--user", "--group"},
    "doas": {"-u", "-C"},
    "env": {"-u", "-C", "-S", "--unset", "--chdir"},
    "exec": {"-a"},
    "nohup": set(),
    "command": set(),
    "builtin": set(),
    "nice": {"-n", "--adjustment"},
    "ionice": {"-c", "-n", "-p", "-P", "-u"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"},
    "stdbuf": {"-i", "-o", "-e"},
    "setsid": set(),
    "chroot": set(),
    "nsenter": {"-t", "--target", "-S", "-G"},
    "systemd-run": {"-p", "--unit", "--property", "-u"},
}


def strip_wrappers(argv: list[AnyWord]) -> list[AnyWord]:
    """Drops sudo/env/exec/... (and their options and NAME=value environment) in front."""
    i = 0
    while i < len(argv):
        name = argv[i].rsplit("/", 1)[-1]
        if name not in WRAPPERS:
            break
        takes_value = WRAPPERS[name]
        i += 1
        while i < len(argv) and (argv[i].startswith("-") or (name == "env" and ASSIGNMENT.match(argv[i]))):
            opt = argv[i].split("=", 1)[0]
            i += 1
            if opt in takes_value and "=" not in argv[i - 1] and i < len(argv):
                i += 1
        if name == "timeout" and i < len(argv):
            i += 1  # the duration
        if name in ("chroot",) and i < len(argv):
            i += 1  # the new root
    return argv[i:]


def shell_c_program(argv: list[AnyWord]) -> str | None:
    """The program of `[wrappers] bash [opts] -c '<program>' ...`, else None."""
    rest = strip_wrappers(argv)
    if not rest or rest[0].rsplit("/", 1)[-1] not in SHELLS:
        if len(rest) >= 2 and rest[0].rsplit("/", 1)[-1] == "env" and rest[1] in SHELLS:
            rest = rest[1:]
        else:
            return None
    for i, w in enumerate(rest[1:], start=1):
        if w == "-c" or (w.startswith("-") and not w.startswith("--") and "c" in w[1:]):
            return str(rest[i + 1]) if i + 1 < len(rest) else None
        if not w.startswith("-"):
            return None
    return None
