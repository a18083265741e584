"""In transit, from outside: what the edge really offers, gathered over the network (the
imperative half; in_transit.py judges it). Connects to the edge's address (an IP or a name the
operator gives) and sends each route's host as SNI and Host header, so no name is resolved for a
test on 127.0.0.1. Standard library TLS, plus the `openssl` command for what Python cannot ask
(IANA suite names, OCSP stapling)."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import secrets
import shutil
import socket
import ssl
import subprocess
import warnings
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from .model import ExpectedEdge

TIMEOUT_SECONDS = 10
VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}
ALL_CIPHERS = "ALL:COMPLEMENTOFALL:@SECLEVEL=0"


@dataclass(frozen=True)
class EdgeTarget:
    address: str  # where to connect (IP or name)
    https_port: int
    http_port: int
    ca_file: str | None = None  # trust for the chain check (the dev CA); None: the system's
    server_name: str | None = None  # SNI for the protocol and suite scan; None: the first route host


def _context(version: str | None = None, ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if version is not None:
        with warnings.catch_warnings():
            # Asking for TLS 1.0 and 1.1 on purpose: to prove the edge refuses them.
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = context.maximum_version = VERSIONS[version]
    if ciphers is not None:
        context.set_ciphers(ciphers)
    return context


def _handshake(target: EdgeTarget, context: ssl.SSLContext, server_name: str) -> ssl.SSLSocket:
    raw = socket.create_connection((target.address, target.https_port), timeout=TIMEOUT_SECONDS)
    try:
        return context.wrap_socket(raw, server_hostname=server_name)
    except BaseException:
        raw.close()
        raise


def protocol_offered(target: EdgeTarget, version: str, server_name: str) -> bool | None:
    """Whether the edge completes a handshake at exactly this version; None when this machine's
    TLS library cannot offer it."""
    try:
        context = _context(version, ALL_CIPHERS if version in ("1.0", "1.1", "1.2") else None)
    except (ValueError, ssl.SSLError):
        return None
    try:
        with _handshake(target, context, server_name):
            return True
    except ssl.SSLError as error:
        if "NO_PROTOCOLS_AVAILABLE" in str(error) or "NO_CIPHERS_AVAILABLE" in str(error):
            return None
        return False
    except (ConnectionError, TimeoutError):
        return False


def iana_names() -> dict[str, str]:
    """OpenSSL's cipher names to the IANA names (`openssl ciphers -stdname`); {} without openssl."""
    if shutil.which("openssl") is None:
        return {}
    listing = subprocess.run(
        ["openssl", "ciphers", "-stdname", ALL_CIPHERS], capture_output=True, text=True, check=False
    ).stdout
    names = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "-":
            names[parts[2]] = parts[0]
    return names


def tls12_suites(target: EdgeTarget, server_name: str) -> list[str]:
    """Every TLS 1.2 suite the edge accepts, tried one at a time (IANA names where known)."""
    names = iana_names()
    candidates = [c["name"] for c in _context("1.2", ALL_CIPHERS).get_ciphers() if c["protocol"] != "TLSv1.3"]
    accepted = []
    for candidate in candidates:
        try:
            context = _context("1.2", f"{candidate}:@SECLEVEL=0")
            with _handshake(target, context, server_name):
                accepted.append(names.get(candidate, f"openssl:{candidate}"))
        except (ssl.SSLError, ConnectionError, TimeoutError):
            continue
    return sorted(accepted)


def _certificate_facts(der: bytes) -> dict[str, Any]:
    certificate = x509.load_der_x509_certificate(der)
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in sans.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = []
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        ocsp = [
            str(a.access_location.value)
            for a in access
            if a.access_method == AuthorityInformationAccessOID.OCSP
        ]
    except x509.ExtensionNotFound:
        ocsp = []
    expires = certificate.not_valid_after_utc
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "sans": names,
        "notAfter": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "daysLeft": round((expires - dt.datetime.now(dt.UTC)).total_seconds() / 86400, 1),
        "ocspUrls": ocsp,
    }


def ocsp_stapled(target: EdgeTarget, server_name: str) -> bool | None:
    """Whether the edge staples an OCSP response (`openssl s_client -status`); None without openssl."""
    if shutil.which("openssl") is None:
        return None
    result = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"{target.address}:{target.https_port}",
            "-servername",
            server_name,
            "-status",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS * 3,
        check=False,
    )
    return "OCSP Response Status: successful" in result.stdout


def certificate(target: EdgeTarget, host: str, with_ocsp: bool) -> dict[str, Any]:
    """The certificate served for `host`: verified (chain and name) or why not, and its facts."""
    facts: dict[str, Any] = {"verified": False, "error": None}
    verifying = ssl.create_default_context(cafile=target.ca_file)
    try:
        with _handshake(target, verifying, host) as tls:
            facts["verified"] = True
            facts["negotiated"] = {"version": tls.version(), "cipher": (tls.cipher() or ("",))[0]}
    except ssl.SSLCertVerificationError as error:
        facts["error"] = error.verify_message or str(error)
    except (ssl.SSLError, OSError) as error:
        facts["error"] = str(error)
    try:
        with _handshake(target, _context(), host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (ssl.SSLError, OSError) as error:
        facts["error"] = facts["error"] or str(error)
        return facts
    if der:
        facts.update(_certificate_facts(der))
    if with_ocsp and facts.get("ocspUrls"):
        facts["ocspStapled"] = ocsp_stapled(target, host)
    return facts


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to `address` with the route's host as SNI and Host header (no name lookup)."""

    def __init__(self, address: str, port: int, host: str, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=TIMEOUT_SECONDS, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), timeout=TIMEOUT_SECONDS)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _response(
    connection: http.client.HTTPConnection, host: str, path: str, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    try:
        connection.request(
            "GET", path, headers={"Host": host, "User-Agent": "encrypted-platform-audit", **(extra or {})}
        )
        response = connection.getresponse()
        if response.status != 101:  # an upgraded connection has no body to read
            response.read(64 * 1024)
        headers: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            headers.setdefault(name.lower(), []).append(value)
        return {"status": response.status, "headers": headers, "error": None}
    except (OSError, http.client.HTTPException) as error:
        return {"status": None, "headers": {}, "error": str(error)}
    finally:
        connection.close()


def scan_edge(target: EdgeTarget, edge: ExpectedEdge) -> dict[str, Any]:
    """Every in-transit fact of the edge the stack's routes need judged."""
    hosts = edge.hosts
    server_name = target.server_name or (hosts[0] if hosts else target.address)
    try:
        socket.create_connection((target.address, target.https_port), timeout=TIMEOUT_SECONDS).close()
    except OSError as error:
        return {"reachable": False, "error": f"{target.address}:{target.https_port}: {error}"}
    facts: dict[str, Any] = {
        "reachable": True,
        "address": target.address,
        "httpsPort": target.https_port,
        "httpPort": target.http_port,
        "serverName": server_name,
        "protocols": {v: protocol_offered(target, v, server_name) for v in VERSIONS},
        "tls12Suites": tls12_suites(target, server_name),
        "certificates": {h: certificate(target, h, edge.staples_ocsp) for h in hosts},
        "redirects": {},
        "responses": {},
    }
    for host in hosts:
        redirect = _response(
            http.client.HTTPConnection(target.address, target.http_port, timeout=TIMEOUT_SECONDS), host, "/"
        )
        facts["redirects"][host] = {
            "status": redirect["status"],
            "location": (redirect["headers"].get("location") or [None])[0],
            "error": redirect["error"],
        }
    trust = ssl.create_default_context(cafile=target.ca_file)
    facts["upgrades"] = {}
    for route in edge.routes:
        if route.websocket:
            facts["upgrades"][route.name] = websocket_upgrades(target, trust, route.host, route.path, edge)
            continue
        connection = _PinnedHTTPSConnection(target.address, target.https_port, route.host, trust)
        facts["responses"][route.name] = _response(connection, route.host, route.path)
    return facts


FOREIGN_ORIGIN = "https://audit-foreign-origin.invalid"


def websocket_upgrades(
    target: EdgeTarget, trust: ssl.SSLContext, host: str, path: str, edge: ExpectedEdge
) -> dict[str, Any]:
    """The status of a WebSocket upgrade from a foreign Origin, and from an allowed Origin
    without a session (no cookie, no Authorization): neither may be switched (101)."""

    def upgrade(origin: str) -> dict[str, Any]:
        headers = {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(secrets.token_bytes(16)).decode(),
            "Origin": origin,
        }
        connection = _PinnedHTTPSConnection(target.address, target.https_port, host, trust)
        answer = _response(connection, host, path, headers)
        return {"origin": origin, "status": answer["status"], "error": answer["error"]}

    allowed = edge.websocket_origins[0] if edge.websocket_origins else None
    return {
        "foreignOrigin": upgrade(FOREIGN_ORIGIN),
        "noSession": None if allowed is None else upgrade(allowed),
    }
