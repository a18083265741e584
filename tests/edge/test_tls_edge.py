"""The rendered edge configuration on the real Traefik binary: redirect, TLS versions, chain and
hostname verification, request hygiene, health check and logs."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from tests.edge.conftest import HOST, Backends, custom_edge_settings, start_custom_edge
from tests.support.edgelab.backends import SESSION_COOKIE
from tests.support.edgelab.http_probes import client_context, openssl_handshake, request, served_chain
from tests.support.edgelab.pki import TestPki, make_ca
from tests.support.edgelab.traefik import TraefikInstance
from tests.support.processes import wait_until


@pytest.mark.parametrize("path", ["/", "/a/b?c=d&e=%C3%A9", "/ws?token=x"])
def test_http_is_permanently_redirected_to_https_on_the_same_host_path_and_query(
    custom_edge: TraefikInstance, path: str
) -> None:
    response = request(custom_edge.web_port, HOST, path)
    assert response.status in (301, 308)
    assert response.header("Location") == f"https://{HOST}:{custom_edge.websecure_port}{path}"


def test_a_post_is_redirected_without_changing_its_method(custom_edge: TraefikInstance) -> None:
    response = request(custom_edge.web_port, HOST, "/form", method="POST")
    assert response.status in (301, 308)
    assert response.header("Location") == f"https://{HOST}:{custom_edge.websecure_port}/form"


@pytest.mark.parametrize("flag", ["-tls1", "-tls1_1"])
def test_tls_1_0_and_1_1_are_refused_by_the_server(
    custom_edge: TraefikInstance, pki: TestPki, flag: str
) -> None:
    handshake = openssl_handshake(custom_edge.websecure_port, HOST, flag, ca_file=pki.root_file)
    output = handshake.stdout + handshake.stderr
    assert handshake.returncode != 0
    # The server's alert (70, protocol_version), not a client that could not offer the version.
    assert "alert protocol version" in output, output


@pytest.mark.parametrize(("flag", "version"), [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_tls_1_2_and_1_3_are_accepted_and_the_chain_verifies_for_the_host(
    custom_edge: TraefikInstance, pki: TestPki, flag: str, version: str
) -> None:
    handshake = openssl_handshake(custom_edge.websecure_port, HOST, flag, ca_file=pki.root_file)
    output = handshake.stdout + handshake.stderr
    assert handshake.returncode == 0, output
    assert f"Protocol version: {version}" in output
    assert "Verification: OK" in output


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_python_clients_verify_chain_and_hostname(
    custom_edge: TraefikInstance, pki: TestPki, version: ssl.TLSVersion
) -> None:
    context = client_context(pki.root_file, minimum=version, maximum=version)
    assert context.check_hostname
    response = request(custom_edge.websecure_port, HOST, "/", tls=context)
    assert response.status == 200
    assert response.tls_version == version.name.replace("_", ".")
    assert json.loads(response.body)["forwardedProto"] == "https"


def test_the_served_chain_is_leaf_then_intermediate_without_the_root(
    custom_edge: TraefikInstance, pki: TestPki
) -> None:
    chain = served_chain(custom_edge.websecure_port, HOST)
    assert [c.fingerprint(c.signature_hash_algorithm) for c in chain] == [  # type: ignore[arg-type]
        c.cert.fingerprint(c.cert.signature_hash_algorithm)
        for c in (pki.leaf, pki.intermediate)  # type: ignore[arg-type]
    ]


def test_an_untrusted_ca_and_an_unknown_server_name_fail_the_handshake(
    custom_edge: TraefikInstance, pki: TestPki, tmp_path: Path
) -> None:
    stranger = make_ca("Some Other Root")
    (tmp_path / "other.pem").write_text(stranger.cert_pem)
    with pytest.raises(ssl.SSLCertVerificationError):
        request(custom_edge.websecure_port, HOST, "/", tls=client_context(tmp_path / "other.pem"))
    # sniStrict: no certificate for this name, so no handshake at all (not a default certificate).
    with pytest.raises(ssl.SSLError) as refused:
        request(custom_edge.websecure_port, "unknown.example.test", "/", tls=client_context(pki.root_file))
    assert not isinstance(refused.value, ssl.SSLCertVerificationError), refused.value


def test_encoded_path_separators_are_refused_and_alias_headers_dropped(
    custom_edge: TraefikInstance, pki: TestPki, backends: Backends
) -> None:
    context = client_context(pki.root_file)
    assert request(custom_edge.websecure_port, HOST, "/files/a%2F..%2Fb", tls=context).status == 400
    marker = "spoofed-by-client"
    response = request(
        custom_edge.websecure_port, HOST, "/alias-check", tls=context, headers={"X_Forwarded_Proto": marker}
    )
    assert response.status == 200
    seen = [headers for _, path, headers in backends.echo.requests if path == "/alias-check"]
    assert seen and all(marker not in value for headers in seen for value in headers.values())


def test_healthcheck_command_follows_the_ping_endpoint(
    backends: Backends, pki: TestPki, tmp_path: Path
) -> None:
    instance = start_custom_edge(tmp_path, custom_edge_settings(backends, pki), pki)
    try:
        healthy = instance.healthcheck()
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    finally:
        instance.stop()
    assert instance.healthcheck().returncode != 0


def test_logs_are_json_files_without_cookies_or_tokens(
    custom_edge: TraefikInstance, pki: TestPki, backends: Backends
) -> None:
    context = client_context(pki.root_file)
    secret_marker = "session-value-that-must-not-be-logged"
    request(
        custom_edge.websecure_port,
        HOST,
        "/logged",
        tls=context,
        headers={
            "Cookie": f"{SESSION_COOKIE}={secret_marker}",
            "Authorization": f"Bearer {secret_marker}",
        },
    )
    entries = wait_until(
        lambda: [e for e in custom_edge.access_log_entries() if e.get("RequestPath") == "/logged"] or None,
        timeout=10,
        what="access log entry",
    )
    assert entries[0]["DownstreamStatus"] == 200
    assert entries[0]["RouterName"] == "app@file"
    for path in (custom_edge.layout.access_log, custom_edge.layout.traefik_log):
        text = Path(path).read_text()
        assert secret_marker not in text
        for line in text.splitlines():
            json.loads(line)
