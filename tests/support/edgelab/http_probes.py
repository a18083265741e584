"""TLS and HTTP probes of an edge on loopback: requests with SNI (names are never resolved), the
served chain, openssl handshakes and the Mozilla TLS configuration check."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from tests.support.net import LOOPBACK
from tests.support.processes import clean_env, wait_until


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    tls_version: str | None = None
    peer_certificates_der: list[bytes] = field(default_factory=list)  # the leaf (Python 3.11)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def client_context(
    ca_file: Path | None, *, minimum: ssl.TLSVersion | None = None, maximum: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if ca_file is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if minimum:
        context.minimum_version = minimum
    if maximum:
        context.maximum_version = maximum
    return context


def request(
    port: int,
    host: str,
    path: str = "/",
    *,
    tls: ssl.SSLContext | None = None,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10,
) -> Response:
    """One HTTP(S) request to 127.0.0.1:port with `host` as SNI and Host header."""
    raw = socket.create_connection((LOOPBACK, port), timeout=timeout)
    tls_version = None
    chain: list[bytes] = []
    sock: socket.socket = raw
    try:
        if tls is not None:
            sock = tls.wrap_socket(raw, server_hostname=host)
            tls_version = sock.version()
            leaf = sock.getpeercert(binary_form=True)
            chain = [leaf] if leaf else []
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.sock = sock
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        body = response.read()
        return Response(response.status, response.headers, body, tls_version, chain)
    finally:
        sock.close()


def served_chain(port: int, host: str, *, timeout: float = 10) -> list[x509.Certificate]:
    """The certificates the server sends for `host` (no verification), leaf first.
    (`openssl s_client -showcerts`: Python 3.11's ssl module exposes only the leaf.)"""
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", "-servername", host, "-showcerts"],
        input="",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(),
        check=False,
    )
    blocks = result.stdout.split("-----BEGIN CERTIFICATE-----")[1:]
    pems = [
        "-----BEGIN CERTIFICATE-----"
        + b.split("-----END CERTIFICATE-----")[0]
        + "-----END CERTIFICATE-----\n"
        for b in blocks
    ]
    if not pems:
        raise ConnectionError(f"no certificate from {host}: {result.stderr.strip()[-300:]}")
    return [x509.load_pem_x509_certificate(p.encode()) for p in pems]


def openssl_handshake(
    port: int, host: str, version_flag: str, *, ca_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`openssl s_client` forced to one protocol version (e.g. -tls1, -tls1_1, -tls1_2). SECLEVEL=0
    lets the client offer the legacy versions, so a failure is the server's refusal."""
    command = [
        "openssl",
        "s_client",
        "-connect",
        f"{LOOPBACK}:{port}",
        "-servername",
        host,
        version_flag,
        "-cipher",
        "ALL:@SECLEVEL=0",
        "-brief",
    ]
    if ca_file:
        command += ["-CAfile", str(ca_file), "-verify_return_error", "-verify_hostname", host]
    return subprocess.run(
        command, input="", capture_output=True, text=True, timeout=20, env=clean_env(), check=False
    )


def mozilla_tls_issues(host: str, port: int, *, ca_file: Path, profile: str) -> dict[str, str]:
    """sslyze's Mozilla checker against 127.0.0.1:port (SNI `host`, chain verified against
    `ca_file`). Returns the issues it found ({} = compliant with `profile`)."""
    from sslyze import (
        CertificateInfoExtraArgument,
        ScanCommandsExtraArguments,
        Scanner,
        ServerNetworkConfiguration,
        ServerNetworkLocation,
        ServerScanRequest,
        ServerScanStatusEnum,
    )
    from sslyze.mozilla_tls_profile.tls_config_checker import (
        SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER,
        MozillaTlsConfiguration,
        ServerNotCompliantWithTlsConfiguration,
        TlsConfigurationEnum,
        check_server_against_tls_configuration,
    )

    scan = ServerScanRequest(
        server_location=ServerNetworkLocation(hostname=host, port=port, ip_address=LOOPBACK),
        network_configuration=ServerNetworkConfiguration(tls_server_name_indication=host),
        scan_commands=set(SCAN_COMMANDS_NEEDED_BY_MOZILLA_CHECKER),
        scan_commands_extra_arguments=ScanCommandsExtraArguments(
            certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca_file)
        ),
    )
    scanner = Scanner()
    scanner.queue_scans([scan])
    result = next(iter(scanner.get_results()))
    if result.scan_status != ServerScanStatusEnum.COMPLETED:
        raise ConnectionError(f"sslyze could not scan {host}:{port}: {result.connectivity_error_trace}")
    configuration = MozillaTlsConfiguration.get(TlsConfigurationEnum(profile))
    try:
        check_server_against_tls_configuration(result, configuration)
    except ServerNotCompliantWithTlsConfiguration as exc:
        return dict(exc.issues)
    return {}


def wait_until_serving(
    process: subprocess.Popen[bytes],
    port: int,
    path: str,
    *,
    name: str,
    output: Callable[[], str],
    stop: Callable[[], None],
    tls: ssl.SSLContext | None = None,
    timeout: float = 30,
) -> None:
    """Polls `path` on a loopback port until it answers 200. Fails (after `stop()`) when the
    process exits first or the time runs out; the error carries the tail of its `output()`."""

    def answered() -> bool | None:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {output()[-2000:]}")
        return True if request(port, LOOPBACK, path, tls=tls, timeout=2).status == 200 else None

    try:
        wait_until(answered, timeout=timeout, what=f"{name} answering {path}")
    except Exception:
        stop()
        raise
