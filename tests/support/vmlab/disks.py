"""Disks of a VM: sparse raw data disks and read-only disks, named by serial as udev names them."""

from __future__ import annotations

import re
from pathlib import Path

from .host import VMError

SERIAL_RE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


def parse_size(size: int | str) -> int:
    """Bytes from 123, "64M", "1G", "512MiB"."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(i?B)?\s*", size, re.IGNORECASE)
    if not match:
        raise ValueError(f"bad size {size!r}")
    return int(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " ")


class DiskSlots:
    """The disks part of a VM: `data_disks` and `readonly_disks` by serial (the VM attaches them
    at boot)."""

    workdir: Path
    data_disks: dict[str, Path]
    readonly_disks: dict[str, Path]

    @property
    def running(self) -> bool:
        """Whether qemu runs (the VM's lifecycle knows)."""
        raise NotImplementedError

    def check_serial(self, serial: str) -> None:
        if not SERIAL_RE.match(serial) or serial == "root":
            raise ValueError(f"disk serial {serial!r}: 1-20 of [A-Za-z0-9_-], not 'root'")
        if serial in getattr(self, "data_disks", {}) or serial in getattr(self, "readonly_disks", {}):
            raise ValueError(f"disk serial {serial!r} is already attached")

    def add_data_disk(self, serial: str, size: int | str = "256M") -> Path:
        """A new sparse raw disk, /dev/disk/by-id/virtio-<serial> in the guest from the next boot."""
        if self.running:
            raise VMError("add data disks while the VM is off")
        self.check_serial(serial)
        path = self.workdir / f"{serial}.img"
        with open(path, "wb") as handle:
            handle.truncate(parse_size(size))
        self.data_disks[serial] = path
        return path

    @staticmethod
    def by_id(serial: str) -> str:
        """The guest path of a disk, as udev names it on a real server."""
        return f"/dev/disk/by-id/virtio-{serial}"
