"""Boots a VM for manual poking: `python -m tests.support.vmlab [luks|docker]`."""

from __future__ import annotations

import contextlib
import shlex
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .assets import build_assets
from .host import FLAVOURS
from .machine import VM


def main(argv: Sequence[str] | None = None) -> int:
    """Boots a VM for manual poking: `python -m tests.support.vmlab [luks|docker]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.support.vmlab", description=main.__doc__)
    parser.add_argument("flavour", choices=FLAVOURS, nargs="?", default="luks")
    parser.add_argument("--data-disk", action="append", default=[], metavar="SERIAL=SIZE")
    args = parser.parse_args(argv)
    disks = dict(item.split("=", 1) for item in args.data_disk)
    workdir = Path(tempfile.mkdtemp(prefix=f"vmlab-{args.flavour}-"))
    with VM(build_assets(args.flavour), workdir, name=args.flavour, data_disks=disks) as vm:
        seconds = vm.boot()
        print(f"booted in {seconds:.1f}s; console: {vm.console_log}")
        print("ssh:", shlex.join([*vm.ssh_argv(), "--"]))
        for guest, host in vm.forwarded.items():
            print(f"guest port {guest} -> 127.0.0.1:{host}")
        with contextlib.suppress(KeyboardInterrupt):
            print("Ctrl-C powers the VM off")
            while vm.running:
                time.sleep(1)
        if vm.running:
            vm.poweroff()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
