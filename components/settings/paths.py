"""Paths in settings: one grammar for every path the host programs, fstab, crypttab and Docker see.

Such a path reaches root shell programs (as an argument and in traps), fstab/crypttab fields and
mountinfo comparisons, so it must mean one thing to all of them:
- absolute and normalised: no '//', no trailing '/', no '.' or '..' component (refused, never
  rewritten: the operator sees the path that will be used);
- a safe character set: letters, digits and `. _ + @ : -` between the slashes. No whitespace,
  quotes, `$`, backquotes, backslashes, globs, control characters or NUL. ':' and '+' are there for
  real device links such as /dev/disk/by-path/pci-0000:00:04.0 or by-id/usb-...-0:0;
- the platform's own directories (encryption.root, stateDir, keysDir, headerBackupDir) are never a
  well-known system directory or a parent of one, never on a virtual filesystem, and never inside
  Docker's own storage (which containers write through their volumes).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from .grammar import grammar

PATH_MAX = 4095
NAME_MAX = 255

SAFE_PATH = grammar(
    "absolute path",
    r"/|(?:/[A-Za-z0-9._+@:-]+)+",
    "/dev/disk/by-path/pci-0000:00:04.0-scsi-0:0:0:1",
)
_SAFE_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+@:-/")

# Directories the system owns: a platform directory may not be one of them or contain one (root
# chmods and chowns its directories, and `destroy` removes what is inside them).
SYSTEM_DIRECTORIES = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/usr/bin",
        "/usr/lib",
        "/usr/local",
        "/usr/sbin",
        "/usr/share",
        "/var",
        "/var/backups",
        "/var/cache",
        "/var/lib",
        "/var/lib/docker",
        "/var/lib/containerd",
        "/var/log",
        "/var/mail",
        "/var/run",
        "/var/spool",
        "/var/tmp",
        "/etc/docker",
        "/etc/ssh",
        "/etc/systemd",
    }
)
# Trees a platform directory may not be inside: virtual or volatile filesystems (a keyfile in /run
# is gone after a reboot) and container storage (a container writes below these).
FORBIDDEN_TREES = ("/proc", "/sys", "/dev", "/run", "/var/run", "/var/lib/docker", "/var/lib/containerd")


def host_path_problem(value: str) -> str | None:
    """Why `value` is not a safe absolute, normalised path, or None."""
    if not value.startswith("/"):
        return f"must be an absolute path starting with '/', got {value!r}"
    bad = sorted({ch for ch in value if ch not in _SAFE_CHARACTERS})
    if bad:
        shown = (
            "".join(bad) if all(ch.isprintable() and not ch.isspace() for ch in bad) else repr("".join(bad))
        )
        return (
            f"may only contain letters, digits and . _ + @ : - between slashes (it reaches root shell "
            f"programs, fstab and crypttab); refused: {shown} in {value!r}"
        )
    parts = value.split("/")[1:]
    if value != "/" and (any(part in ("", ".", "..") for part in parts)):
        return f"must be normalised: no '//', no trailing '/', no '.' or '..' component, got {value!r}"
    if len(value) > PATH_MAX or any(len(part) > NAME_MAX for part in parts):
        return f"is too long (at most {PATH_MAX} characters, {NAME_MAX} per component)"
    assert SAFE_PATH.matches(value)
    return None


def _host_path(value: str) -> str:
    problem = host_path_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def is_within(path: str, directory: str) -> bool:
    """`path` is `directory` or below it (both normalised)."""
    return path == directory or directory == "/" or path.startswith(directory + "/")


def platform_directory_problem(value: str) -> str | None:
    """Why `value` may not be one of the platform's own directories, or None."""
    problem = host_path_problem(value)
    if problem:
        return problem
    contained = sorted(d for d in SYSTEM_DIRECTORIES if is_within(d, value))
    if contained:
        what = (
            f"is the system directory {value}"
            if value in SYSTEM_DIRECTORIES
            else f"contains the system directory {contained[0]}"
        )
        return (
            f"{what}; use a directory of its own such as /srv/encrypted or /etc/encrypted-platform/keys "
            "(root changes the owner and mode of this directory and of what is inside it)"
        )
    for tree in FORBIDDEN_TREES:
        if is_within(value, tree):
            return (
                f"must not be inside {tree} (a virtual or volatile filesystem, or container storage "
                f"that containers write), got {value!r}"
            )
    return None


def _platform_directory(value: str) -> str:
    problem = platform_directory_problem(value)
    if problem:
        raise ValueError(problem)
    return value


HostPath = Annotated[str, AfterValidator(_host_path)]
"""Any path on the host (a device, the Docker socket, a daemon.json)."""

PlatformDirectory = Annotated[str, AfterValidator(_platform_directory)]
"""A directory the platform creates and owns on the host."""

ContainerPath = Annotated[str, AfterValidator(_host_path)]
"""A path inside a container: the same grammar (it is also a mount target and an argument)."""
