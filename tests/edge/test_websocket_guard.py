"""The WebSocket guard on the real Traefik: an upgrade is accepted only on a declared WebSocket
route, with an allowed Origin and a valid session; every other path of a routed host (other
routes, unrouted paths, case and trailing-slash variants of the declared path) answers 403.

The non-WebSocket route `/api` is served by the WebSocket backend on purpose: that backend would
switch protocols for anyone, so each refusal below is the edge's doing, not the backend's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from components.settings.edge import EdgeSettings
from tests.edge.conftest import AUTH_PATH, BACKEND_HOSTS, HOST, ORIGIN, Backends
from tests.support.edgelab.http_probes import client_context, request
from tests.support.edgelab.pki import TestPki, make_pki
from tests.support.edgelab.security_headers import check_security_headers
from tests.support.edgelab.traefik import TraefikInstance, start_traefik, wait_for_route
from tests.support.edgelab.websocket_probes import (
    HTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL,
    http2_server_settings,
    raw_upgrade_status,
    websocket_status,
)

OTHER_HOST = "docs.example.test"
FOREIGN_ORIGIN = "https://evil.test"
# (host, path) -> declared WebSocket route?
DECLARED = {
    (HOST, "/ws"): True,  # the declared path
    (HOST, "/ws/"): True,  # trailing slash: still inside the declared prefix
    (HOST, "/ws/room/1"): True,
    (HOST, "/feed/"): True,  # declared as "/feed/"
    (HOST, "/feed"): False,  # trailing-slash variant outside the declared prefix
    (HOST, "/WS"): False,  # Path matching is case-sensitive: not the declared route
    (HOST, "/Ws/room/1"): False,
    (HOST, "/"): False,  # another route of the same host
    (HOST, "/api/socket"): False,  # another route, whose backend would upgrade
    (HOST, "/api"): False,
    (OTHER_HOST, "/docs"): False,  # a routed host without WebSocket routes
    (OTHER_HOST, "/unrouted"): False,  # a path no route claims
}
CREDENTIALS = ["allowed-origin+session", "foreign-origin+session", "missing-origin+session", "no-session"]
# What a declared route answers for each; every other path answers 403 to all of them.
DECLARED_EXPECTED = {
    "allowed-origin+session": 101,
    "foreign-origin+session": 403,
    "missing-origin+session": 403,
    "no-session": 401,
}


def guard_settings(backends: Backends, pki: TestPki) -> EdgeSettings:
    ws = {"service": "events", "port": backends.websocket.port, "websocket": True}
    return EdgeSettings.model_validate(
        {
            "routes": {
                "site": {"host": HOST, "service": "webui", "port": backends.echo.port},
                "api": {"host": HOST, "path": "/api", "service": "events", "port": backends.websocket.port},
                "events": {"host": HOST, "path": "/ws", **ws},
                "feed": {"host": HOST, "path": "/feed/", **ws},
                "docs": {"host": OTHER_HOST, "path": "/docs", "service": "webui", "port": backends.echo.port},
            },
            "websocket": {
                "allowedOrigins": [ORIGIN],
                "auth": {"service": "auth", "port": backends.auth.port, "path": AUTH_PATH},
            },
            "certificates": {"mode": "custom", "chain": pki.chain_pem},
        }
    )


@pytest.fixture(scope="module")
def guard_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_pki(tmp_path_factory.mktemp("guard-pki"), [HOST, OTHER_HOST])


@pytest.fixture(scope="module")
def guard_edge(
    backends: Backends, guard_pki: TestPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TraefikInstance]:
    instance = start_traefik(
        guard_settings(backends, guard_pki),
        tmp_path_factory.mktemp("edge-guard"),
        backend_hosts=BACKEND_HOSTS,
        certificate_pem=guard_pki.chain_pem,
        private_key_pem=guard_pki.leaf.key_pem,
    )
    try:
        wait_for_route(instance, HOST, "/", client_context(guard_pki.root_file))
        wait_for_route(instance, OTHER_HOST, "/docs", client_context(guard_pki.root_file))
    except Exception:
        instance.stop()
        raise
    yield instance
    instance.stop()


def credentials(name: str, backends: Backends) -> tuple[str | None, str | None]:
    return {
        "allowed-origin+session": (ORIGIN, backends.session_cookie),
        "foreign-origin+session": (FOREIGN_ORIGIN, backends.session_cookie),
        "missing-origin+session": (None, backends.session_cookie),
        "no-session": (ORIGIN, None),
    }[name]


def test_upgrade_matrix_only_declared_routes_with_origin_and_session_switch_protocols(
    guard_edge: TraefikInstance, guard_pki: TestPki, backends: Backends
) -> None:
    before = len(backends.websocket.upgrades)
    got: dict[tuple[str, str, str], int] = {}
    expected: dict[tuple[str, str, str], int] = {}
    for (host, path), declared in DECLARED.items():
        for case in CREDENTIALS:
            origin, cookie = credentials(case, backends)
            got[(host, path, case)] = websocket_status(
                guard_edge.websecure_port,
                host,
                path,
                ca_file=guard_pki.root_file,
                origin=origin,
                cookie=cookie,
            )
            expected[(host, path, case)] = DECLARED_EXPECTED[case] if declared else 403
    assert got == expected
    # Only the accepted upgrades reached the backend.
    accepted = sum(1 for status in expected.values() if status == 101)
    assert accepted == 4
    assert len(backends.websocket.upgrades) == before + accepted


@pytest.mark.parametrize("upgrade", ["websocket", "WebSocket", "h2c", "websocket, foo"])
@pytest.mark.parametrize("path", ["/", "/api/socket", "/WS", "/feed"])
def test_any_upgrade_header_off_a_declared_route_is_refused(
    guard_edge: TraefikInstance, guard_pki: TestPki, backends: Backends, upgrade: str, path: str
) -> None:
    status = raw_upgrade_status(
        guard_edge.websecure_port,
        HOST,
        path,
        tls=client_context(guard_pki.root_file),
        upgrade=upgrade,
        origin=ORIGIN,
        cookie=backends.session_cookie,
    )
    assert status == 403


def test_requests_without_upgrade_still_reach_the_routes(
    guard_edge: TraefikInstance, guard_pki: TestPki
) -> None:
    context = client_context(guard_pki.root_file)
    assert request(guard_edge.websecure_port, HOST, "/page", tls=context).status == 200
    assert request(guard_edge.websecure_port, OTHER_HOST, "/docs/x", tls=context).status == 200
    assert request(guard_edge.websecure_port, OTHER_HOST, "/unrouted", tls=context).status == 404
    # The WebSocket backend behind /api answers a plain GET itself (no upgrade asked for).
    assert request(guard_edge.websecure_port, HOST, "/api/socket", tls=context).status != 403


def test_refusals_carry_the_security_headers(
    guard_edge: TraefikInstance, guard_pki: TestPki, backends: Backends, tmp_path: Path
) -> None:
    response = request(
        guard_edge.websecure_port,
        HOST,
        "/api/socket",
        tls=client_context(guard_pki.root_file),
        headers={"Connection": "Upgrade", "Upgrade": "websocket", "Origin": ORIGIN},
    )
    assert response.status == 403
    check_security_headers(response, guard_edge.settings)


def test_websockets_over_http2_are_not_offered_so_every_handshake_is_an_upgrade_the_guard_sees(
    guard_edge: TraefikInstance, guard_pki: TestPki
) -> None:
    """RFC 8441 WebSockets use an HTTP/2 CONNECT without an Upgrade header; a client may send one
    only when the server's SETTINGS enable it. Traefik does not, so the Upgrade guard is enough."""
    settings = http2_server_settings(guard_edge.websecure_port, HOST, ca_file=guard_pki.root_file)
    assert settings, "no HTTP/2 SETTINGS received"
    assert settings.get(HTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 0) == 0, settings
