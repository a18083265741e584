"""Security headers on every kind of response, scored with the Mozilla Observatory rules, and the
WebSocket policy (origin allow-list + session before the upgrade), on the real Traefik."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.settings.edge import EdgeSettings
from tests.edge.conftest import HOST, ORIGIN, WS_PATH, Backends, custom_edge_settings, start_custom_edge
from tests.support.edgelab.http_probes import Response, client_context, request
from tests.support.edgelab.pki import TestPki
from tests.support.edgelab.security_headers import check_security_headers
from tests.support.edgelab.traefik import TraefikInstance
from tests.support.edgelab.websocket_probes import wss_matrix

# A policy that also locks down scripts, objects, forms and base URIs: what the Observatory wants
# for its top grade, on top of the concept's frame-ancestors rule.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)


def responses_of_every_kind(edge: TraefikInstance, pki: TestPki) -> dict[str, Response]:
    context = client_context(pki.root_file)
    port = edge.websecure_port
    responses = {
        "backend 200": request(port, HOST, "/", tls=context),
        "unrouted 404": request(
            edge.websecure_port,
            "app.example.test",
            "/",
            tls=context,
            headers={"Host": "nothing.example.test"},
        ),
        "foreign origin 403": request(
            port, HOST, WS_PATH, tls=context, headers={"Origin": "https://evil.test"}
        ),
        "no session 401": request(port, HOST, WS_PATH, tls=context, headers={"Origin": ORIGIN}),
    }
    expected = {"backend 200": 200, "unrouted 404": 404, "foreign origin 403": 403, "no session 401": 401}
    assert {name: r.status for name, r in responses.items()} == expected
    return responses


def test_every_response_carries_the_configured_headers_and_no_banner(
    custom_edge: TraefikInstance, pki: TestPki
) -> None:
    for name, response in responses_of_every_kind(custom_edge, pki).items():
        try:
            check_security_headers(response, custom_edge.settings)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


def test_default_headers_score_and_what_keeps_them_from_a_plus(
    custom_edge: TraefikInstance, pki: TestPki
) -> None:
    """The concept's CSP (frame-ancestors only) leaves scripts unrestricted, which the Observatory
    penalises (-20) before any bonus counts; every other header test passes."""
    score = check_security_headers(
        request(custom_edge.websecure_port, HOST, "/", tls=client_context(pki.root_file)),
        custom_edge.settings,
    )
    assert score.results == {
        "content-security-policy": "csp-implemented-with-unsafe-inline",
        "strict-transport-security": "hsts-implemented-max-age-at-least-six-months",
        "x-content-type-options": "x-content-type-options-nosniff",
        "x-frame-options": "x-frame-options-implemented-via-csp",
        "referrer-policy": "referrer-policy-private",
    }
    assert (score.score, score.grade) == (80, "B+")


def test_configured_strict_headers_score_a_plus_on_every_response(
    backends: Backends, pki: TestPki, tmp_path: Path
) -> None:
    settings = custom_edge_settings(
        backends,
        pki,
        headers={
            "contentSecurityPolicy": STRICT_CSP,
            "stsSeconds": 63072000,
            "referrerPolicy": "no-referrer",
        },
    )
    edge = start_custom_edge(tmp_path, settings, pki)
    try:
        for name, response in responses_of_every_kind(edge, pki).items():
            score = check_security_headers(response, settings)
            assert score.score >= 100 and score.grade == "A+", (name, score)
    finally:
        edge.stop()


def test_websocket_matrix(custom_edge: TraefikInstance, pki: TestPki, backends: Backends) -> None:
    before = len(backends.websocket.upgrades)
    results = wss_matrix(
        HOST,
        custom_edge.websecure_port,
        path=WS_PATH,
        ca_file=pki.root_file,
        allowed_origin=ORIGIN,
        session_cookie=backends.session_cookie,
        web_port=custom_edge.web_port,
    )
    assert results == {
        "allowed-origin+session": 101,
        "allowed-origin+no-session": 401,
        "allowed-origin+invalid-session": 401,
        "foreign-origin+session": 403,
        "missing-origin+session": 403,
        "look-alike-origin+session": 403,
        "look-alike-prefix+session": 403,
        "http-origin+session": 403,
        "ws-plain": (301, f"https://{HOST}:{custom_edge.websecure_port}{WS_PATH}"),
    }
    # Only the allowed, authenticated attempt reached the backend.
    assert len(backends.websocket.upgrades) == before + 1


def test_second_allowed_origin_is_accepted_too(
    custom_edge: TraefikInstance, pki: TestPki, backends: Backends
) -> None:
    results = wss_matrix(
        HOST,
        custom_edge.websecure_port,
        path=WS_PATH,
        ca_file=pki.root_file,
        allowed_origin="https://admin.example.test",
        session_cookie=backends.session_cookie,
    )
    assert results["allowed-origin+session"] == 101
    assert results["look-alike-origin+session"] == 403


@pytest.mark.parametrize("origin", ["https://APP.example.test", "https://app.example.test:444", "null"])
def test_origins_that_differ_in_case_port_or_are_opaque_are_forbidden(
    custom_edge: TraefikInstance, pki: TestPki, backends: Backends, origin: str
) -> None:
    response = request(
        custom_edge.websecure_port,
        HOST,
        WS_PATH,
        tls=client_context(pki.root_file),
        headers={"Origin": origin, "Cookie": backends.session_cookie},
    )
    assert response.status == 403


def test_settings_fixture_is_the_default_header_policy(custom_edge: TraefikInstance) -> None:
    assert custom_edge.settings.headers == EdgeSettings().headers
