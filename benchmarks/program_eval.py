"""Program evaluation time under the SDK mock runtime (on demand; never part of the test suite).

Runs __main__.py exactly as the unit tests do (tests/support/program_runner.py, mocks that echo
inputs and only invent ids and random values) for:
- the dev stack (Pulumi.dev.yaml: every built-in service) plus an edge route to the web app;
- N generated services (default 50 and 500): a chain of services, each calling the previous one
  (one link network each), every 5th with a secret (a SecretFile on the secrets volume), every
  25th with egress, all with the edge routing to the first one.

Each evaluation runs in a fresh interpreter (module imports excluded from the time). Reports the
median wall time of `--repeat` runs per size, the number of registered resources, and
the growth ratio t(500)/t(50) next to the resource ratio. Expectation: linear growth, i.e. a time
ratio close to the resource ratio (about 10).

Run: .venv/bin/python -m benchmarks.program_eval [--sizes 50 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.program_runner import load_stack_config, run_program  # noqa: E402

EDGE = {"routes": {"app": {"host": "app.example.test", "service": "webapp", "port": 8080}}}


def dev_config() -> dict[str, Any]:
    config = load_stack_config("dev")
    config["edge"] = EDGE
    return config


def generated_config(count: int) -> dict[str, Any]:
    config = load_stack_config("dev")
    services: dict[str, Any] = {}
    for index in range(count):
        name = f"svc-{index:04d}"
        service: dict[str, Any] = {
            "image": f"registry.example.org/{name}:1.0.{index}",
            "port": 8000,
            "user": "1000:1000",
        }
        if index:
            service["connects"] = [f"svc-{index - 1:04d}"]
        if index % 5 == 0:
            service["secrets"] = [f"secret-{index:04d}"]
        if index % 25 == 0:
            service["egress"] = True
            service["endpoints"] = ["https://api.example.test/v1"]
        services[name] = service
    config["services"] = services
    config["edge"] = {"routes": {"app": {"host": "app.example.test", "service": "svc-0000", "port": 8000}}}
    return config


def _one_run(kind: str, size: int) -> dict[str, Any]:
    """One evaluation in this (fresh) process: the program's modules imported first, then timed."""
    import components.platform  # noqa: F401 - import cost is not evaluation time

    config = dev_config() if kind == "dev" else generated_config(size)
    start = time.perf_counter()
    run = run_program(config=config)
    return {"seconds": time.perf_counter() - start, "resources": len(run.registrations)}


def measure(kind: str, size: int, repeat: int) -> dict[str, Any]:
    """Median of `repeat` evaluations, each in a fresh interpreter: the SDK keeps per-process
    state that makes later runs in the same process slower (seen: +60% by the third run)."""
    samples = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.program_eval", "--one", kind, str(size)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        samples.append(json.loads(out.strip().splitlines()[-1]))
    times = [s["seconds"] for s in samples]
    resources = samples[0]["resources"]
    return {
        "resources": resources,
        "seconds_median": round(statistics.median(times), 3),
        "seconds_all": [round(t, 3) for t in times],
        "ms_per_resource": round(1000 * statistics.median(times) / resources, 3),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one_run(args.one[0], int(args.one[1]))))
        return 0

    report: dict[str, Any] = {"dev_stack": measure("dev", 0, args.repeat), "generated": {}}
    for size in args.sizes:
        report["generated"][str(size)] = measure("generated", size, args.repeat)
    if len(args.sizes) >= 2:
        small, large = (report["generated"][str(s)] for s in (min(args.sizes), max(args.sizes)))
        report["time_ratio"] = round(large["seconds_median"] / small["seconds_median"], 2)
        report["resource_ratio"] = round(large["resources"] / small["resources"], 2)
        report["size_ratio"] = round(max(args.sizes) / min(args.sizes), 2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
