"""Fixtures of the edge lab: local backends, a test PKI, and real Traefik processes running the
configuration the edge component renders (tests/support/edgelab/)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.settings.edge import EdgeSettings
from tests.support.edgelab.backends import (
    SESSION_COOKIE,
    start_auth_backend,
    start_echo_backend,
    start_websocket_backend,
)
from tests.support.edgelab.http_probes import client_context
from tests.support.edgelab.pki import TestPki, make_pki
from tests.support.edgelab.traefik import TraefikInstance, start_traefik, wait_for_route
from tests.support.net import LOOPBACK

HOST = "app.example.test"
ORIGIN = f"https://{HOST}"
WS_PATH = "/ws"
AUTH_PATH = "/auth/verify"
# Every backend listens on loopback; the edge reaches them by these names in the container.
BACKEND_HOSTS = {"webui": LOOPBACK, "events": LOOPBACK, "auth": LOOPBACK}


class Backends:
    def __init__(self, token: str) -> None:
        self.token = token
        self.echo = start_echo_backend("webui")
        self.auth = start_auth_backend({token})
        self.websocket = start_websocket_backend()

    @property
    def session_cookie(self) -> str:
        return f"{SESSION_COOKIE}={self.token}"

    def close(self) -> None:
        for closer in (self.echo.close, self.auth.close, self.websocket.close):
            closer()


@pytest.fixture(scope="session")
def backends() -> Iterator[Backends]:
    started = Backends(secrets.token_urlsafe(24))
    yield started
    started.close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_pki(tmp_path_factory.mktemp("pki"), [HOST])


def platform_config(backends: Backends, **overrides: Any) -> dict[str, Any]:
    """An `edge` config as a stack would write it: a web UI route and a WebSocket route."""
    config: dict[str, Any] = {
        "routes": {
            "app": {"host": HOST, "service": "webui", "port": backends.echo.port},
            "events": {
                "host": HOST,
                "path": WS_PATH,
                "service": "events",
                "port": backends.websocket.port,
                "websocket": True,
            },
        },
        "websocket": {
            "allowedOrigins": [ORIGIN, "https://admin.example.test"],
            "auth": {"service": "auth", "port": backends.auth.port, "path": AUTH_PATH},
        },
    }
    config.update(overrides)
    return config


def custom_edge_settings(backends: Backends, pki: TestPki, **overrides: Any) -> EdgeSettings:
    return EdgeSettings.model_validate(
        platform_config(backends, certificates={"mode": "custom", "chain": pki.chain_pem}, **overrides)
    )


def start_custom_edge(workdir: Path, settings: EdgeSettings, pki: TestPki) -> TraefikInstance:
    instance = start_traefik(
        settings,
        workdir,
        backend_hosts=BACKEND_HOSTS,
        certificate_pem=pki.chain_pem,
        private_key_pem=pki.leaf.key_pem,
    )
    try:
        wait_for_route(instance, HOST, "/", client_context(pki.root_file))
    except Exception:
        instance.stop()
        raise
    return instance


@pytest.fixture(scope="session")
def custom_edge(
    backends: Backends, pki: TestPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TraefikInstance]:
    """Default settings (intermediate profile, default headers) with a custom certificate chain."""
    instance = start_custom_edge(
        tmp_path_factory.mktemp("edge-custom"), custom_edge_settings(backends, pki), pki
    )
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def modern_edge(
    backends: Backends, pki: TestPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TraefikInstance]:
    settings = custom_edge_settings(backends, pki, tls={"profile": "modern"})
    instance = start_custom_edge(tmp_path_factory.mktemp("edge-modern"), settings, pki)
    yield instance
    instance.stop()
