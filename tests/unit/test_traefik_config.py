"""The pure Traefik renderers (components/in_transit/traefik_config.py): settings in, configuration out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.in_transit.traefik_config import (
    AUTH_REQUEST_HEADERS,
    HEADERS_MIDDLEWARE,
    INTERMEDIATE_CIPHER_SUITES,
    NOT_FOUND_ROUTER,
    UPGRADE_REFUSED_ROUTER,
    TraefikLayout,
    origin_regexp,
    redirect_target,
    render_dynamic,
    render_files,
    render_static,
    route_rule,
    to_yaml,
)
from components.settings.edge import EdgeSettings
from components.settings.edge_tls import LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING
from tests.support.edgelab.pki import make_pki

ROUTES = {
    "app": {"host": "app.example.test", "service": "webui", "port": 8080},
    "api": {"host": "app.example.test", "path": "/api", "service": "api", "port": 8000},
    "admin": {"host": "admin.example.test", "service": "webui", "port": 8080},
    "events": {"host": "app.example.test", "path": "/ws", "service": "api", "port": 8000, "websocket": True},
}
WEBSOCKET = {
    "allowedOrigins": ["https://app.example.test", "https://admin.example.test:8443"],
    "auth": {"service": "auth", "port": 9000, "path": "/verify", "responseHeaders": ["X-Auth-User"]},
}
LAYOUT = TraefikLayout(
    backend_hosts={"webui": "webui.internal", "api": "api.internal", "auth": "auth.internal"}
)
ACME = {"mode": "acme", "acme": {"email": "ops@example.test"}}


def settings(**overrides: Any) -> EdgeSettings:
    raw: dict[str, Any] = {"routes": ROUTES, "websocket": WEBSOCKET, "certificates": ACME}
    raw.update(overrides)
    return EdgeSettings.model_validate(raw)


def test_static_config_never_calls_home_and_has_no_dashboard_or_docker_provider() -> None:
    static = render_static(settings(), LAYOUT)
    assert static["global"] == {"checkNewVersion": False, "sendAnonymousUsage": False}
    assert "api" not in static and "experimental" not in static
    assert static["providers"] == {"file": {"directory": "/etc/traefik/dynamic", "watch": False}}
    assert set(static["entryPoints"]) == {"web", "websecure", "ping"}


def test_web_only_redirects_permanently_to_websecure() -> None:
    web = render_static(settings(), LAYOUT)["entryPoints"]["web"]
    assert web["address"] == ":80"
    assert web["http"]["redirections"] == {
        "entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}
    }


def test_redirect_names_the_published_port_when_it_is_not_the_container_port() -> None:
    moved = settings(ports={"http": 8080, "https": 8443})
    assert redirect_target(moved, LAYOUT) == ":8443"
    assert (
        render_static(moved, LAYOUT)["entryPoints"]["web"]["http"]["redirections"]["entryPoint"]["to"]
        == ":8443"
    )
    loopback = TraefikLayout(web_address="127.0.0.1:8080", websecure_address="127.0.0.1:8443")
    assert redirect_target(moved, loopback) == "websecure"


def test_ping_listens_on_loopback_only_and_every_entrypoint_cleans_requests() -> None:
    static = render_static(settings(), LAYOUT)
    assert static["ping"] == {"entryPoint": "ping"}
    assert static["entryPoints"]["ping"]["address"] == "127.0.0.1:8082"
    for entrypoint in static["entryPoints"].values():
        assert entrypoint["http"]["aliasHeadersStrategy"] == "delete"
        assert set(entrypoint["http"]["encodedCharacters"].values()) == {False}


def test_logs_are_json_files_on_the_logs_volume_without_headers() -> None:
    static = render_static(settings(logLevel="WARN"), LAYOUT)
    assert static["log"] == {"level": "WARN", "format": "json", "filePath": "/var/log/traefik/traefik.log"}
    assert static["accessLog"]["format"] == "json"
    assert static["accessLog"]["filePath"] == "/var/log/traefik/traefik-access.log"
    assert static["accessLog"]["fields"]["headers"] == {"defaultMode": "drop"}


def test_acme_resolver_uses_http01_on_web_ec256_and_the_secrets_volume() -> None:
    acme = render_static(settings(), LAYOUT)["certificatesResolvers"]["acme"]["acme"]
    assert acme == {
        "email": "ops@example.test",
        "storage": "/var/lib/traefik/acme.json",
        "caServer": LETS_ENCRYPT_PRODUCTION,
        "keyType": "EC256",
        "certificatesDuration": 2160,
        "httpChallenge": {"entryPoint": "web"},
    }


def test_acme_staging_custom_directory_and_private_roots() -> None:
    staging = settings(certificates={"mode": "acme", "acme": {"email": "ops@example.test", "staging": True}})
    assert (
        render_static(staging, LAYOUT)["certificatesResolvers"]["acme"]["acme"]["caServer"]
        == LETS_ENCRYPT_STAGING
    )
    private = settings(
        certificates={
            "mode": "acme",
            "acme": {"email": "o@example.test", "caServer": "https://ca.example.test/acme/dir"},
        }
    )
    layout = TraefikLayout(acme_ca_certificates=("/etc/ssl/private-acme-root.pem",))
    acme = render_static(private, layout)["certificatesResolvers"]["acme"]["acme"]
    assert acme["caServer"] == "https://ca.example.test/acme/dir"
    assert acme["caCertificates"] == ["/etc/ssl/private-acme-root.pem"]


def test_ocsp_stapling_only_for_custom_certificates(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, ["app.example.test", "admin.example.test"])
    custom = settings(certificates={"mode": "custom", "chain": pki.chain_pem})
    assert render_static(custom, LAYOUT)["ocsp"] == {}
    assert "certificatesResolvers" not in render_static(custom, LAYOUT)
    assert "ocsp" not in render_static(settings(), LAYOUT)
    assert "ocsp" not in render_static(settings(certificates={"mode": "dev"}), LAYOUT)


def test_intermediate_profile_is_mozilla_intermediate() -> None:
    options = render_dynamic(settings(), LAYOUT)["tls"]["options"]
    assert list(options) == ["default"]  # hardening lives in the default, which every router uses
    assert options["default"] == {
        "minVersion": "VersionTLS12",
        "curvePreferences": ["X25519MLKEM768", "X25519", "CurveP256", "CurveP384"],
        "sniStrict": True,
        "cipherSuites": list(INTERMEDIATE_CIPHER_SUITES),
    }
    assert all(
        s.startswith("TLS_ECDHE_") and ("GCM" in s or "CHACHA20_POLY1305" in s)
        for s in INTERMEDIATE_CIPHER_SUITES
    )
    assert len(set(INTERMEDIATE_CIPHER_SUITES)) == 6


@pytest.mark.parametrize("tls", [{"profile": "modern"}, {"profile": "intermediate", "minVersion": "1.3"}])
def test_tls_1_3_only(tls: dict[str, str]) -> None:
    options = render_dynamic(settings(tls=tls), LAYOUT)["tls"]["options"]["default"]
    assert options["minVersion"] == "VersionTLS13"
    assert "cipherSuites" not in options  # not configurable for TLS 1.3 in Go
    assert options["sniStrict"] is True


def test_every_router_is_tls_on_websecure_with_the_headers_middleware_first() -> None:
    for mode in (ACME, {"mode": "dev"}):
        routers = render_dynamic(settings(certificates=mode), LAYOUT)["http"]["routers"]
        assert set(routers) == {
            "app",
            "app-upgrade-refused",
            "api",
            "api-upgrade-refused",
            "admin",
            "admin-upgrade-refused",
            "events",
            "events-forbidden-origin",
            UPGRADE_REFUSED_ROUTER,
            NOT_FOUND_ROUTER,
        }
        for name, router in routers.items():
            assert router["entryPoints"] == ["websecure"], name
            assert router["middlewares"][0] == HEADERS_MIDDLEWARE, name
            assert "tls" in router, name


def test_acme_routers_use_the_resolver_and_custom_routers_use_the_listed_certificate(tmp_path: Path) -> None:
    routers = render_dynamic(settings(), LAYOUT)["http"]["routers"]
    assert routers["app"]["tls"] == {"certResolver": "acme"}
    assert routers[NOT_FOUND_ROUTER]["tls"] == {}  # no Host rule: nothing to order a certificate for
    pki = make_pki(tmp_path, ["app.example.test", "admin.example.test"])
    dynamic = render_dynamic(settings(certificates={"mode": "custom", "chain": pki.chain_pem}), LAYOUT)
    assert dynamic["http"]["routers"]["app"]["tls"] == {}
    # The key file is on the secrets volume; only the public chain is under /etc/traefik.
    assert dynamic["tls"]["certificates"] == [
        {"certFile": "/etc/traefik/certs/edge.crt", "keyFile": "/var/lib/traefik/tls/edge.key"}
    ]


def test_routes_become_host_and_path_rules_with_deduplicated_backends() -> None:
    http = render_dynamic(settings(), LAYOUT)["http"]
    assert http["routers"]["app"]["rule"] == "Host(`app.example.test`)"
    assert http["routers"]["api"]["rule"] == "Host(`app.example.test`) && PathPrefix(`/api`)"
    assert http["routers"]["admin"]["service"] == http["routers"]["app"]["service"] == "webui-8080"
    assert http["services"] == {
        "webui-8080": {
            "loadBalancer": {"servers": [{"url": "http://webui.internal:8080"}], "passHostHeader": True}
        },
        "api-8000": {
            "loadBalancer": {"servers": [{"url": "http://api.internal:8000"}], "passHostHeader": True}
        },
    }


def test_security_headers_come_from_settings() -> None:
    custom = settings(
        headers={
            "stsSeconds": 63072000,
            "stsPreload": True,
            "contentSecurityPolicy": "default-src 'self'; frame-ancestors 'none'",
            "referrerPolicy": "no-referrer",
            "permissionsPolicy": "camera=()",
        }
    )
    headers = render_dynamic(custom, LAYOUT)["http"]["middlewares"][HEADERS_MIDDLEWARE]["headers"]
    assert headers == {
        "stsSeconds": 63072000,
        "stsIncludeSubdomains": True,
        "stsPreload": True,
        "contentSecurityPolicy": "default-src 'self'; frame-ancestors 'none'",
        "contentTypeNosniff": True,
        "referrerPolicy": "no-referrer",
        "permissionsPolicy": "camera=()",
        "customResponseHeaders": {"Server": "", "X-Powered-By": ""},
    }


def test_default_headers_are_the_concepts() -> None:
    headers = render_dynamic(settings(), LAYOUT)["http"]["middlewares"][HEADERS_MIDDLEWARE]["headers"]
    assert headers["stsSeconds"] == 31536000 and headers["stsIncludeSubdomains"] is True
    assert headers["contentSecurityPolicy"] == "frame-ancestors 'self'"
    assert headers["contentTypeNosniff"] is True
    assert headers["referrerPolicy"] == "strict-origin-when-cross-origin"


def test_websocket_route_checks_origin_then_session_and_forbids_the_rest() -> None:
    http = render_dynamic(settings(), LAYOUT)["http"]
    allowed, forbidden = http["routers"]["events"], http["routers"]["events-forbidden-origin"]
    base = "Host(`app.example.test`) && PathPrefix(`/ws`)"
    assert forbidden["rule"] == base
    assert allowed["rule"] == (
        base
        + " && HeaderRegexp(`Origin`, `^(https://admin\\.example\\.test:8443|https://app\\.example\\.test)$`)"
    )
    # Explicit priorities: the origin-checked router wins over its fallback.
    assert allowed["priority"] == forbidden["priority"] + 1
    assert allowed["middlewares"] == [HEADERS_MIDDLEWARE, "websocket-session"]
    assert forbidden["middlewares"] == [HEADERS_MIDDLEWARE, "forbidden"]
    assert forbidden["service"] == "noop@internal"
    assert http["middlewares"]["forbidden"] == {"ipAllowList": {"sourceRange": ["255.255.255.255/32"]}}
    assert http["middlewares"]["websocket-session"] == {
        "forwardAuth": {
            "address": "http://auth.internal:9000/verify",
            "trustForwardHeader": False,
            "authRequestHeaders": list(AUTH_REQUEST_HEADERS),
            "maxResponseBodySize": 65536,
            "authResponseHeaders": ["X-Auth-User"],
        }
    }


def test_origin_regexp_matches_exactly_the_listed_origins() -> None:
    pattern = re.compile(origin_regexp(["https://app.example.test", "https://admin.example.test:8443"]))
    assert pattern.match("https://app.example.test")
    assert pattern.match("https://admin.example.test:8443")
    for other in (
        "https://app.example.test.evil.test",
        "https://evilapp.example.test",
        "https://appXexample.test",
        "http://app.example.test",
        "https://admin.example.test",
        "https://app.example.test:443",
        "null",
        "",
    ):
        assert not pattern.match(other), other


def test_unrouted_requests_get_a_404_with_headers_at_the_lowest_priority() -> None:
    http = render_dynamic(settings(), LAYOUT)["http"]
    router = http["routers"][NOT_FOUND_ROUTER]
    assert router["priority"] == 1 and router["rule"] == "PathPrefix(`/`)"
    assert http["middlewares"]["not-found"]["errors"]["statusRewrites"] == {"418": 404}


def test_no_websocket_middlewares_without_websocket_routes() -> None:
    plain = EdgeSettings.model_validate({"routes": {"app": ROUTES["app"]}, "certificates": ACME})
    http = render_dynamic(plain, LAYOUT)["http"]
    assert set(http["middlewares"]) == {HEADERS_MIDDLEWARE, "forbidden", "not-found"}


def test_every_other_route_refuses_upgrades_with_a_guard_above_it() -> None:
    http = render_dynamic(settings(), LAYOUT)["http"]
    routers = http["routers"]
    for name in ("app", "api", "admin"):
        route, guard = routers[name], routers[f"{name}-upgrade-refused"]
        assert guard["rule"] == route["rule"] + " && HeaderRegexp(`Upgrade`, `.`)"
        assert guard["priority"] == route["priority"] + 1
        assert guard["service"] == "noop@internal"
        assert guard["middlewares"] == [HEADERS_MIDDLEWARE, "forbidden"]
    catch_all = routers[UPGRADE_REFUSED_ROUTER]
    assert catch_all["rule"] == "HeaderRegexp(`Upgrade`, `.`)"
    assert catch_all["middlewares"] == [HEADERS_MIDDLEWARE, "forbidden"]
    assert routers[NOT_FOUND_ROUTER]["priority"] < catch_all["priority"]
    assert catch_all["priority"] < min(
        r["priority"]
        for n, r in routers.items()
        if n
        not in (
            UPGRADE_REFUSED_ROUTER,
            NOT_FOUND_ROUTER,
        )
    )


def test_a_longer_route_path_outranks_every_router_of_a_shorter_one_on_the_same_host() -> None:
    routers = render_dynamic(settings(), LAYOUT)["http"]["routers"]
    # "/" < "/ws" == "/api" in length; each route's own routers sit above every router of "/".
    assert min(routers[n]["priority"] for n in ("events", "events-forbidden-origin")) > max(
        routers[n]["priority"] for n in ("app", "app-upgrade-refused")
    )
    assert (
        min(routers[n]["priority"] for n in ("api", "api-upgrade-refused"))
        > routers["app-upgrade-refused"]["priority"]
    )


def test_a_route_named_like_a_guard_router_is_refused() -> None:
    clash = {"app": ROUTES["app"], "app-upgrade-refused": {**ROUTES["api"], "path": "/other"}}
    with pytest.raises(ValueError, match="two Traefik routers named 'app-upgrade-refused'"):
        render_dynamic(EdgeSettings.model_validate({"routes": clash, "certificates": ACME}), LAYOUT)


@pytest.mark.parametrize("path", ["/ws\n", "/ws`) || Path(`/", "/w s", "/ws\t", "/w\u00e9"])
def test_the_renderer_refuses_a_rule_value_that_could_break_out_of_its_quoting(path: str) -> None:
    """Settings validate paths; the renderer still never emits a rule from a value it cannot quote."""
    route = EdgeSettings.model_validate({"routes": {"app": ROUTES["app"]}, "certificates": ACME}).routes[
        "app"
    ]
    unvalidated = route.model_copy(update={"path": path})
    with pytest.raises(ValueError, match="not allowed in a Traefik rule value"):
        route_rule(unvalidated)


def test_files_are_yaml_of_the_rendered_documents_at_the_container_paths() -> None:
    files = render_files(settings(), LAYOUT)
    assert list(files) == ["/etc/traefik/traefik.yml", "/etc/traefik/dynamic/edge.yml"]
    assert yaml.safe_load(files["/etc/traefik/traefik.yml"]) == render_static(settings(), LAYOUT)
    assert yaml.safe_load(files["/etc/traefik/dynamic/edge.yml"]) == render_dynamic(settings(), LAYOUT)
    assert to_yaml(render_static(settings(), LAYOUT)) == files["/etc/traefik/traefik.yml"]  # deterministic
