"""`make bench`: every benchmark, one after the other (each prints its own JSON report).

    .venv/bin/python -m benchmarks [name ...]

Names: luks_rotation, edge_tls, policy_analyze_stack, program_eval (default: all).
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("luks_rotation", "edge_tls", "policy_analyze_stack", "program_eval")


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmarks: {unknown}; choose from {BENCHMARKS}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        print(f"== benchmarks.{name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        status |= module.main([]) or 0
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
