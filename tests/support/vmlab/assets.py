"""The assets of a flavour, built on first use: boot files and root image, and for the docker
flavour the test images baked into the root image by booting it once."""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tests.support import images

from .cache import cached, digest, file_signature, tree_digest
from .guest_build import build_guest
from .host import FLAVOURS, Assets, VMError, run_host
from .machine import VM

# Images baked into the docker flavour's root image (no registry anywhere).
BUSYBOX_IMAGE = "vmlab/busybox:latest"
TRAEFIK_IMAGE = "vmlab/traefik:latest"
PYTHON_STANDIN_IMAGE = "vmlab/python-standin:latest"  # listens on STANDIN_PORTS (default 8080)
# Debian's PostgreSQL 15 as uid 70; initialises an empty $PGDATA, serves the unix socket only
# (tests/support/images.py postgres_rootfs, tests/support/image_files/postgres-entrypoint.sh).
POSTGRES_IMAGE = "vmlab/postgres:15"


@dataclass(frozen=True)
class BakedImage:
    rootfs: Callable[[Path], Path]  # writes a root filesystem tar (tests/support/images.py)
    changes: tuple[str, ...] = ()  # `docker import --change` lines


BAKED_IMAGES: Mapping[str, BakedImage] = {
    BUSYBOX_IMAGE: BakedImage(images.busybox_rootfs),
    TRAEFIK_IMAGE: BakedImage(images.traefik_rootfs),
    PYTHON_STANDIN_IMAGE: BakedImage(
        images.python_rootfs,
        tuple(line for line in images.standin_changes([]) if not line.startswith("ENV STANDIN_PORTS=")),
    ),
    POSTGRES_IMAGE: BakedImage(images.postgres_rootfs, images.POSTGRES_CHANGES),
}


def _bake_images(work: Path, base: Assets, bake: Mapping[str, BakedImage]) -> None:
    """Boots the docker flavour once, imports the image root filesystems (attached as read-only
    raw disks: much faster than piping them through SSH under emulation), powers off cleanly
    and keeps the resulting root image."""
    root = work / "root.img"
    run_host(["cp", "--sparse=always", base.root_image, root])
    os.chmod(root, 0o644)
    tars: dict[str, Path] = {}
    for index, image in enumerate(bake.values()):
        tars[f"import-{index}"] = image.rootfs(work / f"import-{index}.tar")
    vm = VM(
        replace(base, root_image=root), work / "run", name="bake", readonly_disks=tars, overlay_root=False
    )
    try:
        vm.boot()
        for serial, (name, image) in zip(tars, bake.items(), strict=True):
            changes = [arg for change in image.changes for arg in ("--change", change)]
            vm.ssh(["docker", "import", *changes, vm.by_id(serial), name], timeout=600)
        listed = vm.ssh("docker image ls --format '{{.Repository}}:{{.Tag}}'").stdout.decode().split()
        missing = set(bake) - set(listed)
        if missing:
            raise VMError(f"baking images failed: {sorted(missing)} not in {listed}")
        vm.poweroff()
    finally:
        vm.close()
    for path in tars.values():
        path.unlink()
    shutil.rmtree(work / "run")
    run_host(["e2fsck", "-f", "-n", root])  # a clean power-off leaves a clean filesystem
    os.chmod(root, 0o444)


_build_lock = threading.Lock()


@functools.cache
def _build_assets_cached(flavour: str) -> Assets:
    guest = build_guest(flavour)
    assets = guest.assets
    if flavour != "docker":
        return assets
    traefik = images.TRAEFIK_BINARY if images.TRAEFIK_BINARY.exists() else Path(shutil.which("traefik") or "")
    baked_key = digest(
        guest.root_key,
        guest.boot_key,
        tuple((name, image.changes) for name, image in BAKED_IMAGES.items()),
        inspect.getsource(images),
        tree_digest(images.STANDINS),
        tree_digest(images.IMAGE_FILES),
        file_signature(images.BUSYBOX),
        file_signature(images.PYTHON),
        file_signature(images.POSTGRES_HOME / "bin" / "postgres"),
        file_signature(traefik) if traefik.is_file() else "no traefik",
        _bake_images,
    )
    baked = cached("root-docker-baked", baked_key, lambda work: _bake_images(work, assets, BAKED_IMAGES))
    return replace(assets, root_image=baked / "root.img", images=tuple(BAKED_IMAGES))


def build_assets(flavour: str) -> Assets:
    """The assets of a flavour, built on first use and cached on disk (and in this process)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown vmlab flavour {flavour!r}; expected one of {FLAVOURS}")
    if os.geteuid() != 0:
        raise VMError(
            "vmlab builds need root (Debian's /boot/vmlinuz-* is root-only; images hold root-owned files)"
        )
    with _build_lock:
        return _build_assets_cached(flavour)
