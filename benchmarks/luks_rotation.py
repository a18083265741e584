"""Key rotation vs full re-encryption, on a small and a large volume, in a qemu VM.

    .venv/bin/python -m benchmarks.luks_rotation [--small 64MiB] [--large 4GiB] [--repeat 3]

Both volumes are device-backed LUKS2 volumes on sparse data disks of the VM, made by the project's
own `ensure` program with fixed KDF settings (the ones the tests use), so only the size differs.

- rotation (`keyVersion` N -> N+1: luksAddKey, prove the new key opens, luksRemoveKey) touches key
  slots only. Claim: O(1) in the volume size, large/small ratio about 1.
- re-encryption (`cryptsetup reencrypt`, a new volume key) rewrites every sector. Claim: O(size),
  ratio about large/small (64 for 4 GiB vs 64 MiB; the LUKS2 header is a fixed extra).

Timings are wall-clock seconds of the whole program over SSH (as a Pulumi Command would run it),
so they include one SSH round trip and cryptsetup's key-slot unlocks; under software emulation
(TCG) everything is slower than on real hardware, the ratios are what matters. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from components.settings.base import parse_size  # noqa: E402
from tests.support.luks_lab import command_line, ensure, make_spec, reencrypt  # noqa: E402
from tests.support.vmlab.fixtures import VMFactory  # noqa: E402
from tests.support.vmlab.machine import VM  # noqa: E402


def timed_program(vm: VM, program: str, stdin: str) -> float:
    started = time.monotonic()
    result = vm.ssh(command_line(program), input=stdin, check=False, timeout=7200)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(result.stderr.decode()[-2000:])
    return elapsed


def measure(vm: VM, serial: str, repeat: int) -> dict[str, Any]:
    keys = [secrets.token_hex(32) for _ in range(repeat + 1)]

    def spec(version: int, generation: int = 0) -> Any:
        return make_spec(
            serial, root="",
            volume={"backing": "device", "device": VM.by_id(serial), "keyVersion": version,
                    "reencryptGeneration": generation},
        )  # fmt: skip

    create = timed_program(vm, ensure(spec(1)), keys[0] + "\n")
    rotations = [
        timed_program(vm, ensure(spec(i + 1)), f"{keys[i]}\n{keys[i - 1]}\n") for i in range(1, repeat + 1)
    ]
    current = spec(repeat + 1, generation=1)
    reencryption = timed_program(vm, reencrypt(current), keys[repeat] + "\n")
    return {
        "create_s": round(create, 2),
        "rotation_s": [round(r, 2) for r in rotations],
        "rotation_median_s": round(statistics.median(rotations), 2),
        "reencrypt_s": round(reencryption, 2),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", default="64MiB")
    parser.add_argument("--large", default="4GiB")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = {"small": parse_size(args.small), "large": parse_size(args.large)}
    with tempfile.TemporaryDirectory(prefix="bench-luks-") as work:
        factory = VMFactory(Path(work))
        try:
            vm = factory("luks", name="bench", data_disks={name: size for name, size in sizes.items()})
            results = {
                name: {"bytes": size, **measure(vm, name, args.repeat)} for name, size in sizes.items()
            }
        finally:
            factory.close_all()
    small, large = results["small"], results["large"]
    report = {
        "volumes": results,
        "size_ratio": round(large["bytes"] / small["bytes"], 1),
        "rotation_ratio_large_over_small": round(large["rotation_median_s"] / small["rotation_median_s"], 2),
        "reencrypt_ratio_large_over_small": round(large["reencrypt_s"] / small["reencrypt_s"], 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
