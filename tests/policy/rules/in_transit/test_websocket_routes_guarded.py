"""Rule websocket-routes-guarded (policy/rules/in_transit/websocket_routes_guarded.py): its violating
programs (tests/support/programs/websocket_routes_guarded.py) are rejected; then the rule's own
tests (from tests/policy/test_traefik_sources.py)."""

from __future__ import annotations

import pytest

from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs import Program
from tests.support.programs import websocket_routes_guarded as websockets
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(websockets)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


@pytest.mark.parametrize(
    ("rule", "checked"),
    [
        ("Host(`a`) && HeaderRegexp(`Origin`, `^(https://a\\.test)$`)", True),
        ("Host(`a`) && Header(`Origin`, `https://a.test`)", True),
        ("Host(`a`) && HeaderRegexp(`origin`, `^(https://a\\.test)$`)", True),
        ("Host(`a`) && HeaderRegexp(`Origin`, `https://a\\.test`)", False),  # unanchored
        ("Host(`a`) && HeaderRegexp(`Origin`, `^https://.*$`)", False),
        ("Host(`a`) && !HeaderRegexp(`Origin`, `^(https://e\\.test)$`)", False),
        ("(Host(`a`) && HeaderRegexp(`Origin`, `^(https://a\\.test)$`)) || Host(`b`)", False),
        ("Host(`a`) && (HeaderRegexp(`Origin`, `^(https://a\\.test)$`) || Path(`/x`))", False),
        ("Host(`a`)", False),
    ],
)
def test_origin_check_must_hold_in_every_alternative(rule: str, checked: bool) -> None:
    from rules.in_transit.websocket_routes_guarded import origin_checked

    assert origin_checked(rule) is checked


def test_the_edge_renderers_websocket_route_counts_as_guarded() -> None:
    """The component's routers (components/in_transit/traefik_config.py) meet the rule: the one source."""
    from rules.in_transit.websocket_routes_guarded import origin_checked

    from components.in_transit.traefik_config import TraefikLayout, render_dynamic
    from components.settings.edge import EdgeSettings

    settings = EdgeSettings.model_validate(
        {
            "routes": {
                "events": {
                    "host": "a.example.test",
                    "path": "/ws",
                    "service": "api",
                    "port": 1,
                    "websocket": True,
                }
            },
            "websocket": {
                "allowedOrigins": ["https://a.example.test"],
                "auth": {"service": "api", "port": 2},
            },
            "certificates": {"mode": "acme", "acme": {"email": "o@example.test"}},
        }
    )
    routers = render_dynamic(settings, TraefikLayout())["http"]["routers"]
    assert origin_checked(routers["events"]["rule"])


@pytest.mark.parametrize("variant", ["preview", "update"])
def test_a_guarded_websocket_route_passes(pack: PolicyPackProcess, variant: str) -> None:
    verdict = evaluate(capture(websockets.guarded_websocket_route, preview=variant == "preview"), pack=pack)
    assert not verdict.mandatory(), verdict.describe()
