"""Small local backends behind the edge: HTTP echo, the forwardAuth session check, an OCSP
responder and a WebSocket echo, each on a free loopback port."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization

from tests.support.net import LOOPBACK

from .pki import Issued


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
