"""Custom PKI: Traefik staples the OCSP response of a certificate that names a responder (the
rendered static config enables `ocsp` in custom mode). The responder is a local test process."""

from __future__ import annotations

import subprocess
from pathlib import Path

from components.settings.edge import EdgeSettings
from tests.edge.conftest import BACKEND_HOSTS, HOST, Backends, platform_config
from tests.support.edgelab.backends import start_ocsp_responder
from tests.support.edgelab.pki import TestPki, chain_of, make_ca, make_leaf
from tests.support.edgelab.traefik import TraefikInstance, start_traefik
from tests.support.net import LOOPBACK
from tests.support.processes import clean_env, wait_until


def stapled_status(port: int, ca_file: Path) -> str:
    result = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"{LOOPBACK}:{port}",
            "-servername",
            HOST,
            "-status",
            "-CAfile",
            str(ca_file),
        ],
        input="",
        capture_output=True,
        text=True,
        timeout=20,
        env=clean_env(),
        check=False,
    )
    return result.stdout


def test_ocsp_response_is_stapled(backends: Backends, tmp_path: Path) -> None:
    root = make_ca("OCSP Lab Root")
    intermediate = make_ca("OCSP Lab Intermediate", issuer=root)
    responder = start_ocsp_responder(intermediate)
    try:
        leaf = make_leaf(intermediate, [HOST], ocsp_url=f"http://{LOOPBACK}:{responder.port}/")
        chain = chain_of(leaf, intermediate)
        (tmp_path / "root.pem").write_text(root.cert_pem)
        settings = EdgeSettings.model_validate(
            platform_config(backends, certificates={"mode": "custom", "chain": chain})
        )
        edge = start_traefik(
            settings,
            tmp_path / "traefik",
            backend_hosts=BACKEND_HOSTS,
            certificate_pem=chain,
            private_key_pem=leaf.key_pem,
        )
        try:
            output = wait_until(
                lambda: (
                    o
                    if "OCSP Response Status: successful"
                    in (o := stapled_status(edge.websecure_port, tmp_path / "root.pem"))
                    else None
                ),
                timeout=30,
                interval=0.5,
                what="stapled OCSP response",
            )
            assert "Cert Status: good" in output
            assert "Verify return code: 0 (ok)" in output
            assert responder.requests, "the responder was never asked"
        finally:
            edge.stop()
    finally:
        responder.close()


def test_without_a_responder_url_nothing_is_stapled(custom_edge: TraefikInstance, pki: TestPki) -> None:
    """Control: the same probe reports no stapled response when the certificate names no responder."""
    output = stapled_status(custom_edge.websecure_port, pki.root_file)
    assert "OCSP response: no response sent" in output
