"""Pebble (Let's Encrypt's ACME test server) on loopback, with pebble-challtestsrv as its DNS
stand-in answering 127.0.0.1 for every name."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.net import LOOPBACK, free_port
from tests.support.processes import clean_env, stop_process

from .http_probes import client_context, request, wait_until_serving
from .pki import make_ca, make_leaf, write_private


@dataclass
class Pebble:
    process: subprocess.Popen[bytes]
    challtestsrv: subprocess.Popen[bytes]
    directory_url: str
    management_port: int
    https_ca_file: Path  # the CA of Pebble's own HTTPS listener (what the ACME client must trust)
    workdir: Path

    def _management(self, path: str) -> str:
        context = client_context(self.https_ca_file)
        return request(self.management_port, LOOPBACK, path, tls=context).body.decode()

    def root_pem(self) -> str:
        """Pebble's issuing root (new at every start)."""
        return self._management("/roots/0")

    def intermediate_pem(self) -> str:
        return self._management("/intermediates/0")

    def output(self) -> str:
        return (self.workdir / "pebble.out").read_text(errors="replace")

    def stop(self) -> None:
        for process in (self.process, self.challtestsrv):
            stop_process(process)


def start_pebble(workdir: Path, *, http_port: int, certificate_validity_seconds: int = 7776000) -> Pebble:
    """Pebble on loopback validating HTTP-01 against `http_port` (Traefik's web entrypoint), with
    pebble-challtestsrv as its DNS server answering 127.0.0.1 for every name."""
    workdir.mkdir(parents=True, exist_ok=True)
    https_ca = make_ca("Pebble Lab HTTPS CA")
    https_leaf = make_leaf(https_ca, ["localhost"], ip_addresses=[LOOPBACK])
    (workdir / "https-ca.pem").write_text(https_ca.cert_pem)
    (workdir / "https-cert.pem").write_text(https_leaf.cert_pem)
    write_private(workdir / "https-key.pem", https_leaf.key_pem)
    acme_port, management_port, tls_port = free_port(), free_port(), free_port()
    dns_port, challtest_management = free_port(), free_port()
    config = {
        "pebble": {
            "listenAddress": f"{LOOPBACK}:{acme_port}",
            "managementListenAddress": f"{LOOPBACK}:{management_port}",
            "certificate": str(workdir / "https-cert.pem"),
            "privateKey": str(workdir / "https-key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            # Pebble's 5-year default fails Mozilla's lifespan rule; 90 days is Let's Encrypt's.
            "certificateValidityPeriod": certificate_validity_seconds,
        }
    }
    (workdir / "pebble.json").write_text(json.dumps(config))
    dns_out = open(workdir / "challtestsrv.out", "wb")  # noqa: SIM115
    challtestsrv = subprocess.Popen(
        [
            "pebble-challtestsrv",
            "-dns01",
            f"{LOOPBACK}:{dns_port}",
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            f"{LOOPBACK}:{challtest_management}",
            "-defaultIPv4",
            LOOPBACK,
            "-defaultIPv6",
            "",
        ],
        stdout=dns_out,
        stderr=subprocess.STDOUT,
        env=clean_env(),
    )
    dns_out.close()
    out = open(workdir / "pebble.out", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        ["pebble", "-config", str(workdir / "pebble.json"), "-dnsserver", f"{LOOPBACK}:{dns_port}"],
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        # Real validation (no VA_ALWAYS_VALID); no artificial sleeps or rejected nonces.
        env=clean_env(PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0"),
    )
    out.close()
    pebble = Pebble(
        process,
        challtestsrv,
        f"https://{LOOPBACK}:{acme_port}/dir",
        management_port,
        workdir / "https-ca.pem",
        workdir,
    )
    wait_until_serving(
        process,
        acme_port,
        "/dir",
        name="pebble",
        output=pebble.output,
        stop=pebble.stop,
        tls=client_context(pebble.https_ca_file),
    )
    return pebble
