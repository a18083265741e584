"""WebSocket probes of the edge: upgrades over TLS (with and without Origin and session), plain
upgrades, raw Upgrade requests, HTTP/2 extended CONNECT, and the whole policy matrix."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tests.support.net import LOOPBACK
from tests.support.processes import T

from .backends import SESSION_COOKIE
from .http_probes import client_context, request


def run_on_private_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs `coroutine` on a loop of its own and leaves the thread's current loop as it was:
    asyncio.run ends by setting the current loop to None, after which the Pulumi SDK, which takes
    the current loop, fails in every later program run of the same test session."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


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
