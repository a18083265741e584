"""ACME for real: Pebble (Let's Encrypt's test CA) validates HTTP-01 against the web entrypoint of
the real Traefik running the rendered acme-mode configuration, then renewal of a short-lived
certificate under load."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from components.settings.edge import EdgeSettings
from tests.edge.conftest import BACKEND_HOSTS, HOST, Backends, platform_config
from tests.support.edgelab.http_probes import client_context, request, served_chain
from tests.support.edgelab.pebble import start_pebble
from tests.support.edgelab.traefik import start_traefik, wait_for_route
from tests.support.net import free_port

# Short lifetime for the renewal test: Traefik renews certificates that live under a day when
# less than 20 minutes remain, checking every minute (see certificatesDuration).
SHORT_LIFETIME_SECONDS = 600


class AcmeLab:
    def __init__(
        self, workdir: Path, backends: Backends, validity_seconds: int, certificates_hours: int
    ) -> None:
        web, websecure, ping = free_port(), free_port(), free_port()
        self.pebble = start_pebble(
            workdir / "pebble", http_port=web, certificate_validity_seconds=validity_seconds
        )
        acme = {
            "email": "ops@example.test",
            "caServer": self.pebble.directory_url,
            "certificatesDuration": certificates_hours,
        }
        self.settings = EdgeSettings.model_validate(
            platform_config(backends, certificates={"mode": "acme", "acme": acme})
        )
        try:
            self.edge = start_traefik(
                self.settings,
                workdir / "traefik",
                backend_hosts=BACKEND_HOSTS,
                acme_ca_certificates=[str(self.pebble.https_ca_file)],
                ports=(web, websecure, ping),
            )
        except Exception:
            self.pebble.stop()
            raise
        self.roots = workdir / "pebble-root.pem"
        self.roots.write_text(self.pebble.root_pem())
        self.context = client_context(self.roots)

    def stop(self) -> None:
        self.edge.stop()
        self.pebble.stop()


@pytest.fixture()
def acme_lab(backends: Backends, tmp_path: Path) -> Iterator[AcmeLab]:
    started = AcmeLab(tmp_path, backends, validity_seconds=90 * 24 * 3600, certificates_hours=2160)
    yield started
    started.stop()


def test_http01_issues_an_ec256_certificate_chaining_to_the_acme_root(acme_lab: AcmeLab) -> None:
    edge = acme_lab.edge
    # Polls until the issued certificate is served: the handshake verifies against Pebble's root.
    response = wait_for_route(edge, HOST, "/", acme_lab.context, timeout=60)
    assert response.status == 200
    log = edge.log()
    assert "The server validated our request" in log  # a real HTTP-01 validation, not a shortcut
    chain = served_chain(edge.websecure_port, HOST)
    leaf = chain[0]
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [HOST]
    intermediate = x509.load_pem_x509_certificate(acme_lab.pebble.intermediate_pem().encode())
    assert leaf.issuer == intermediate.subject
    storage = Path(edge.layout.acme_storage)
    assert stat.S_IMODE(storage.stat().st_mode) == 0o600
    # The account key and the certificate key live in acme.json, i.e. on the secrets volume.
    stored = json.loads(storage.read_text())["acme"]
    assert stored["Account"]["PrivateKey"] and stored["Account"]["Email"] == "ops@example.test"
    [certificate] = stored["Certificates"]
    assert certificate["domain"]["main"] == HOST and certificate["key"]


def test_a_short_lived_certificate_is_renewed_without_a_failed_request(
    backends: Backends, tmp_path: Path
) -> None:
    acme = AcmeLab(tmp_path, backends, validity_seconds=SHORT_LIFETIME_SECONDS, certificates_hours=1)
    try:
        edge = acme.edge
        wait_for_route(edge, HOST, "/", acme.context, timeout=60)
        first = served_chain(edge.websecure_port, HOST)[0].serial_number
        deadline = time.monotonic() + 150
        requests = failures = 0
        renewed = None
        while time.monotonic() < deadline:
            try:
                status = request(edge.websecure_port, HOST, "/", tls=acme.context, timeout=5).status
            except OSError as exc:
                status = repr(exc)
            requests += 1
            failures += status != 200
            serial = served_chain(edge.websecure_port, HOST)[0].serial_number
            if serial != first:
                renewed = serial
                break
            time.sleep(0.25)
        assert renewed is not None, f"no renewal within 150 s: {edge.log()[-1500:]}"
        assert "Renewing ACME certificate" in edge.log()
        assert failures == 0 and requests > 10, (requests, failures)
        # And the renewed certificate verifies like the first one.
        assert request(edge.websecure_port, HOST, "/", tls=acme.context).status == 200
    finally:
        acme.stop()
