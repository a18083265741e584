"""Policy pack throughput (on demand; never part of the test suite).

AnalyzeStack over stacks of about 500 and 5,000 resources, sent to the pack over the Analyzer
gRPC protocol exactly as the engine does (tests/support/analyzer.py): a fresh pack process per
size, the engine's opening sequence, one Analyze per custom resource, then AnalyzeStack.

The stacks come from the mock runtime: N units of [RandomPassword, LUKS Command, docker.Volume
bound into its mount, internal docker.Network, hardened docker.Container mounting the volume],
plus a Traefik edge. `--luks-program rendered` uses the project's real rendered LUKS program
(about 24 kB of bash per command) instead of the short one a teammate would write.

Reports wall time of AnalyzeStack (and of the Analyze calls, per resource), the pack process's
peak resident memory (VmHWM, reset before the AnalyzeStack call), and the growth ratio between the
sizes. The same stacks also go through a pack with no policies, started and spoken to by the same
harness (the floor: process, gRPC and (de)serialisation cost), so the pack's own share is visible.
Expectation: roughly linear growth and AnalyzeStack under 1 s at 5,000 resources.

Run: .venv/bin/python -m benchmarks.policy_analyze_stack [--sizes 500 5000] [--luks-program short|rendered] [--cold]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.analyzer import PolicyPackProcess, capture, encode  # noqa: E402
from tests.support.programs import baseline  # noqa: E402

RESOURCES_PER_UNIT = 5
THRESHOLD_SECONDS = 1.0
# A pack whose policies check nothing, started exactly like the real one (the floor); the SDK
# requires policies, so there is one per scope.
FLOOR_PACK = """\
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy

PolicyPack(
    name="floor",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(name="noop-resource", description="nothing", validate=lambda args, report: None),
        StackValidationPolicy(name="noop-stack", description="nothing", validate=lambda args, report: None),
    ],
)
"""
FLOOR_YAML = "name: floor\nversion: 0.0.1\nruntime:\n  name: python\n"


def rendered_program(name: str) -> str:
    from components.at_rest.luks_scripts import render_program, volume_spec
    from components.settings import parse_settings

    settings = parse_settings({})
    spec = volume_spec(
        "app-db", settings.volumes["app-db"], settings.encryption, project="bench", stack="dev"
    )
    text = render_program("ensure", spec)
    return text.replace("ep-app-db", f"ep-{name}").replace("/srv/encrypted/app-db", f"/srv/{name}")


def stack_program(units: int, luks: str) -> Any:
    def program() -> None:
        edge_net = baseline.internal_network("edge-net")
        # the edge routes to the first unit's app
        baseline.edge(
            edge_net, dynamic=baseline.DYNAMIC_CONFIG.replace("http://app:8080", "http://u0-app:8080")
        )
        for i in range(units):
            name = f"u{i}"
            program_text = rendered_program(name) if luks == "rendered" else None
            _cmd, vol = baseline.luks_volume(
                name, device=f"/dev/disk/by-id/virtio-{name}", program=program_text
            )
            net = baseline.internal_network(f"{name}-net")
            baseline.app(net, vol, name=f"{name}-app")

    return program


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def reset_peak(pid: int) -> None:
    # Writing 5 to clear_refs resets the peak RSS (VmHWM) of a process we started.
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def floor_pack_dir() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="policy-floor-"))
    (directory / "PulumiPolicy.yaml").write_text(FLOOR_YAML)
    (directory / "__main__.py").write_text(FLOOR_PACK)
    return directory


def build(resources: int, luks: str) -> tuple[Any, float]:
    units = max(1, resources // RESOURCES_PER_UNIT)
    t0 = time.perf_counter()
    encoded = encode(capture(stack_program(units, luks), preview=True))
    return encoded, time.perf_counter() - t0


def measure(encoded: Any, built: float, cold: bool, policy_dir: Path | None = None) -> dict[str, Any]:
    with PolicyPackProcess(**({"policy_dir": policy_dir} if policy_dir is not None else {})) as pack:
        pack.start()
        pid = pack.process.pid
        t1 = time.perf_counter()
        # A preview sends Analyze for every resource first; --cold measures AnalyzeStack alone
        # (nothing parsed or remembered yet).
        analyze_diags = 0 if cold else sum(len(pack.analyze(req)) for req in encoded.analyze)
        analyze_s = time.perf_counter() - t1
        reset_peak(pid)
        rss_before = vm_hwm_kib(pid)
        t2 = time.perf_counter()
        stack_diags = pack.analyze_stack(encoded.stack)
        stack_s = time.perf_counter() - t2
        peak = vm_hwm_kib(pid)
    return {
        "resources": len(encoded.stack.resources),
        "custom_resources": len(encoded.analyze),
        "build_seconds": round(built, 2),
        "analyze_calls_seconds": round(analyze_s, 3),
        "analyze_us_per_resource": round(1e6 * analyze_s / max(len(encoded.analyze), 1), 1),
        "analyze_stack_seconds": round(stack_s, 3),
        "pack_rss_before_kib": rss_before,
        "pack_peak_rss_during_analyze_stack_kib": peak,
        "mandatory_violations": sum(1 for d in stack_diags if d.level == "mandatory") + analyze_diags,
        "violations_sample": [d.message.splitlines()[-1][:160] for d in stack_diags[:3]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--luks-program", choices=["short", "rendered"], default="short")
    parser.add_argument(
        "--cold", action="store_true", help="AnalyzeStack without the preceding Analyze calls"
    )
    args = parser.parse_args(argv)
    floor_dir = floor_pack_dir()
    results, floor = [], []
    for n in args.sizes:
        encoded, built = build(n, args.luks_program)
        results.append(measure(encoded, built, args.cold))
        floor.append(measure(encoded, built, args.cold, floor_dir))
    report: dict[str, Any] = {"luks_program": args.luks_program, "cold": args.cold, "results": results}
    for r in (*results, *floor):
        r["analyze_stack_us_per_resource"] = round(1e6 * r["analyze_stack_seconds"] / r["resources"], 1)
    report["floor_no_policies"] = [
        {k: r[k] for k in ("resources", "analyze_us_per_resource", "analyze_stack_seconds")} for r in floor
    ]
    if len(results) >= 2:
        a, b = results[0], results[-1]
        report["size_ratio"] = round(b["resources"] / a["resources"], 2)
        report["analyze_stack_time_ratio"] = round(
            b["analyze_stack_seconds"] / max(a["analyze_stack_seconds"], 1e-9), 2
        )
        # Linear: the cost per resource does not grow with the stack (2x slack for noise on
        # shared machines and for the fixed cost that dominates small stacks).
        report["roughly_linear"] = (
            b["analyze_stack_us_per_resource"] <= 2 * a["analyze_stack_us_per_resource"]
        )
    largest = results[-1]
    report["under_threshold"] = largest["analyze_stack_seconds"] < THRESHOLD_SECONDS
    report["expectations_met"] = (
        report["under_threshold"]
        and report.get("roughly_linear", True)
        and all(r["mandatory_violations"] == 0 for r in results)
    )
    print(json.dumps(report, indent=2))
    return 0 if report["expectations_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
