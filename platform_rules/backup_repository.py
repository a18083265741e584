"""Which restic repositories the platform backs up to: one rule for the settings and the pack.

A backup holds every volume's data, so where it goes is a matter of encryption in transit too:
restic encrypts what it stores, but over plain http an observer or a server in the middle sees
(and can replay or withhold) every request, and the REST/S3 credentials travel in clear. The
platform supports the two kinds that need nothing on the far side beyond a disk or sshd:

- a local path (`/srv/restic/ep` or `local:/srv/restic/ep`), another disk of the host;
- SFTP (`sftp:USER@HOST:/ABS/PATH`), over the host's ssh with a pinned host key.

`repository_problem` says why a restic repository spelling is refused (plain http first, then
any other backend the platform does not support), or None. Every path is absolute and of a safe
character set: the value reaches a root shell program's parameter block and restic's argv.
"""

from __future__ import annotations

import re

# The characters a repository path may hold: those of the settings' host path grammar.
_PATH = r"(?:/[A-Za-z0-9._+@:-]+)+"
_USER = r"[a-z_][a-z0-9_-]{0,31}"
_HOST = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)"
)
LOCAL_REPOSITORY = re.compile(rf"(?:local:)?(?P<path>{_PATH})", re.ASCII)
SFTP_REPOSITORY = re.compile(rf"sftp:(?P<user>{_USER})@(?P<host>{_HOST}):(?P<path>{_PATH})", re.ASCII)
SFTP_EXAMPLE = "sftp:backup@backup.example.org:/srv/restic/encrypted-platform"

# restic's other backends (restic 0.14, internal/location): none is supported here.
UNSUPPORTED_BACKENDS = ("rest", "s3", "swift", "b2", "azure", "gs", "rclone")
_PLAIN_HTTP = re.compile(r"(?:[a-z0-9]+:)?http://", re.IGNORECASE)


def plain_http(repository: str) -> bool:
    """The repository is reached over plain http (`http://...`, `rest:http://...`, `s3:http://...`)."""
    return _PLAIN_HTTP.match(repository.strip()) is not None


def repository_problem(repository: str) -> str | None:
    """Why the restic repository spelling `repository` is refused, or None."""
    if plain_http(repository):
        return (
            f"must not be reached over plain http (got {repository!r}): anyone on the path sees every "
            "request and its credentials; use sftp:USER@HOST:/PATH or a local path on another disk"
        )
    if LOCAL_REPOSITORY.fullmatch(repository) or SFTP_REPOSITORY.fullmatch(repository):
        if any(part in (".", "..") for part in repository.split("/")):
            return f"must be a normalised absolute path (no '.' or '..'), got {repository!r}"
        return None
    backend = repository.split(":", 1)[0].lower() if ":" in repository else ""
    if backend in UNSUPPORTED_BACKENDS:
        return (
            f"the restic backend {backend!r} is not supported by the platform (got {repository!r}); "
            f"use {SFTP_EXAMPLE} or a local path on another disk"
        )
    if backend == "sftp":
        return f"must be spelled sftp:USER@HOST:/ABSOLUTE/PATH such as {SFTP_EXAMPLE}, got {repository!r}"
    return (
        "must be an absolute local path of letters, digits and . _ + @ : - between slashes, or "
        f"sftp:USER@HOST:/ABSOLUTE/PATH, got {repository!r}"
    )
