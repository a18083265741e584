"""What every part of vmlab shares: where its files are on this machine, the flavours, the
errors, the assets a VM boots from, and running a host program."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("vmlab")

REPO = Path(__file__).resolve().parents[3]
GUEST_FILES = Path(__file__).resolve().parent
# Outside the checkout, so every clone on this machine (CI's fresh one included) reuses the
# images: entries are keyed by a digest of all their inputs, a changed input builds a new entry.
_USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
CACHE = Path(os.environ.get("VMLAB_CACHE") or _USER_CACHE / "encrypted-platform" / "vmlab")

FLAVOURS = ("luks", "docker")


class VMError(RuntimeError):
    """A VM did not boot, power off or answer as expected (message carries the console tail)."""


class VMCommandError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        out = (self.stdout or b"").decode(errors="replace")[-2000:]
        err = (self.stderr or b"").decode(errors="replace")[-2000:]
        return f"{super().__str__()}\n--- stdout ---\n{out}\n--- stderr ---\n{err}"


@dataclass(frozen=True)
class Assets:
    """Everything needed to boot one flavour. The root image is a read-only base: VMs boot
    qcow2 overlays of it."""

    flavour: str
    kernel: Path
    initramfs: Path
    root_image: Path
    private_key: Path  # OpenSSH ed25519 key authorized for root and deploy
    host_key: str  # "ssh-ed25519 AAAA..." of the guest's sshd
    images: tuple[str, ...] = ()


def run_host(argv: Sequence[str | os.PathLike[str]], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("check", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("capture_output", True)
    try:
        return subprocess.run([str(a) for a in argv], **kwargs)
    except subprocess.CalledProcessError as error:
        raise VMError(f"{shlex.join(map(str, argv))} failed ({error.returncode}): {error.stderr}") from error
