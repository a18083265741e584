"""Program evaluation time under the SDK mock runtime (on demand; never part of the test suite).

Runs __main__.py exactly as the unit tests do (tests/support/program_runner.py, mocks that echo
inputs and only invent ids and random values) for:
- the dev stack (Pulumi.dev.yaml: every built-in service) plus an edge route to the web app;
- N generated services (default 50 and 500): a chain of services, each calling the previous one
  (one link network each), every 5th with a secret (a SecretFile on the secrets volume), every
  25th with egress, all with the edge routing to the first one;
- the mock runtime's own floor next to each: as many random.RandomString resources as that
  program registered, declared by a plain loop under the same runner, in the same interpreter
  settings (`defer_full_collections`, as __main__.py).

Samples are taken in rounds (one of each program and floor per round), so that every size sees
the same load.

Each evaluation runs in a fresh interpreter (module imports excluded from the time). Reports per
kind the median wall time and process CPU time of `--repeat` runs, ms per resource (wall and CPU),
the full garbage collections that ran, the peak memory and the program's cost over the floor's;
then the growth ratios t(500)/t(50) of program and floor next to the resource ratio, and the
marginal cost per added resource. Expectation: linear growth, i.e. time ratios no more than 10%
above the resource ratio, for the program and for the floor. On a loaded machine wall time moves
with the other processes; CPU time much less (the cores' caches are still shared).

Run: .venv/bin/python -m benchmarks.program_eval [--sizes 50 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
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
LINEAR_TOLERANCE = 0.10  # a time ratio within 10% of the resource ratio counts as linear


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


def floor_program(count: int) -> None:
    """`count` trivial resources: no parent, no provider, no Output passed between them. The
    interpreter is prepared as __main__.py prepares it, so only the resources differ."""
    import pulumi_random as random

    from components.platform import defer_full_collections

    defer_full_collections()
    for index in range(count):
        random.RandomString(f"floor-{index}", length=16, special=False)


def _one_run(kind: str, size: int) -> dict[str, Any]:
    """One evaluation in this (fresh) process: the program's modules imported first, then timed.
    `size` is the number of services (generated) or of resources (floor)."""
    import pulumi_random  # noqa: F401 - import cost is not evaluation time

    import components.platform  # noqa: F401

    if kind == "floor":
        program: Any = lambda: floor_program(size)  # noqa: E731
        config: dict[str, Any] = {}
    else:
        program = None
        config = dev_config() if kind == "dev" else generated_config(size)
    full_before = gc.get_stats()[2]["collections"]
    start, cpu_start = time.perf_counter(), time.process_time()
    run = run_program(program, config=config)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "resources": len(run.registrations),
        "full_collections": gc.get_stats()[2]["collections"] - full_before,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def _sample(kind: str, size: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.program_eval", "--one", kind, str(size)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    times = [s["seconds"] for s in samples]
    cpus = [s["cpu_seconds"] for s in samples]
    resources = samples[0]["resources"]
    return {
        "resources": resources,
        "seconds_median": round(statistics.median(times), 3),
        "seconds_all": [round(t, 3) for t in times],
        "cpu_seconds_median": round(statistics.median(cpus), 3),
        "cpu_seconds_all": [round(t, 3) for t in cpus],
        "ms_per_resource": round(1000 * statistics.median(times) / resources, 3),
        "cpu_ms_per_resource": round(1000 * statistics.median(cpus) / resources, 3),
        "full_collections": sorted({s["full_collections"] for s in samples}),
        "max_rss_mib": max(s["max_rss_mib"] for s in samples),
    }


def measure(targets: list[tuple[str, int]], repeat: int) -> dict[tuple[str, int], dict[str, Any]]:
    """Each program (kind, size) and its floor (as many RandomStrings as it registered), `repeat`
    rounds of one sample of each, every sample in a fresh interpreter (the same heap and collector
    state at the start). Rounds rather than one size after the other: the load of a shared
    machine changes over minutes, and a time ratio between sizes is only meaningful when both
    sizes saw the same load. Returns per target both summaries and the program's cost over the
    floor."""
    samples: dict[tuple[str, int], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
        target: ([], []) for target in targets
    }
    for _ in range(repeat):
        for kind, size in targets:
            program, floor = samples[(kind, size)]
            program.append(_sample(kind, size))
            floor.append(_sample("floor", program[-1]["resources"]))
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for target, (program, floor) in samples.items():
        result = {"program": _summary(program), "floor": _summary(floor)}
        result["over_floor"] = {
            "wall": round(result["program"]["ms_per_resource"] / result["floor"]["ms_per_resource"], 2),
            "cpu": round(
                result["program"]["cpu_ms_per_resource"] / result["floor"]["cpu_ms_per_resource"], 2
            ),
        }
        results[target] = result
    return results


def growth(small: dict[str, Any], large: dict[str, Any]) -> dict[str, Any]:
    """t(large)/t(small) for program and floor, next to the resource ratio, and whether it stays
    within LINEAR_TOLERANCE above it (below it is the fixed cost of an evaluation, which the
    smaller run carries over fewer resources). The marginal cost is what each resource added
    between the two sizes costs."""
    added = large["program"]["resources"] - small["program"]["resources"]
    resource_ratio = large["program"]["resources"] / small["program"]["resources"]
    report: dict[str, Any] = {"resource_ratio": round(resource_ratio, 2)}
    for part in ("program", "floor"):
        for metric, key in (("wall", "seconds_median"), ("cpu", "cpu_seconds_median")):
            ratio = large[part][key] / small[part][key]
            report[f"{part}_{metric}_ratio"] = round(ratio, 2)
            report[f"{part}_{metric}_at_most_linear"] = ratio <= resource_ratio * (1 + LINEAR_TOLERANCE)
            report[f"{part}_{metric}_marginal_ms_per_resource"] = round(
                1000 * (large[part][key] - small[part][key]) / added, 3
            )
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one_run(args.one[0], int(args.one[1]))))
        return 0

    results = measure([("dev", 0)] + [("generated", size) for size in args.sizes], args.repeat)
    report: dict[str, Any] = {
        "dev_stack": results[("dev", 0)],
        "generated": {str(size): results[("generated", size)] for size in args.sizes},
    }
    if len(args.sizes) >= 2:
        report["growth"] = growth(
            report["generated"][str(min(args.sizes))], report["generated"][str(max(args.sizes))]
        )
        report["size_ratio"] = round(max(args.sizes) / min(args.sizes), 2)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
