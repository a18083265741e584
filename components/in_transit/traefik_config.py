"""Pure renderers: typed edge settings -> Traefik v3 static and dynamic configuration (no Pulumi).

The component writes exactly what these functions return onto the encrypted volume Traefik
reads; the host tests run the real Traefik binary with the same output, changing only the
`TraefikLayout` (file paths, listen addresses, backend host names) so it fits on loopback.

Design notes (each checked against the real binary, see tests/edge/):
- TLS hardening lives in `tls.options.default`: every router uses it, and Traefik falls back to
  `default` anyway when two routers give one host different options.
- HTTP -> HTTPS is an entrypoint redirection; Traefik's ACME HTTP-01 router still answers on web.
- Every router has an explicit priority: the longest route path wins (as Traefik's default, the
  rule length, would for rules of one shape), and within one route the guard router below decides.
  Rule lengths are not used because the guard routers' extra matchers would skew them.
- A WebSocket route is two routers on the same host and path: the allowed one adds an Origin
  rule and a forwardAuth session check; the fallback answers 403 to every other origin, instead
  of the silent 404 of an unmatched rule.
- An upgrade request (any `Upgrade` header: websocket, h2c, ...) is refused with 403 everywhere
  but on a declared WebSocket route: each other route has a guard router for upgrades of its own
  host and path, and a catch-all guard covers unrouted paths and hosts. Traefik's Path and
  PathPrefix matchers are case-sensitive, so `/WS` is not the `/ws` route and gets the guard.
- A last-resort router gives unknown paths a 404 that still carries the security headers.
- Rule values are refused unless they are printable ASCII without backquotes: a rule is parsed by
  Traefik, so a value must never be able to end its quoting or carry a line break.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from components.settings.edge import EdgeSettings, RouteSettings

# Mozilla "intermediate" (v5.7): ECDHE + AEAD only. TLS 1.3 suites are not configurable in Go.
INTERMEDIATE_CIPHER_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
)
# Traefik's default list includes secp521r1, which Mozilla's profiles do not.
CURVE_PREFERENCES = ("X25519MLKEM768", "X25519", "CurveP256", "CurveP384")
TLS_VERSIONS = {"1.2": "VersionTLS12", "1.3": "VersionTLS13"}

ACME_RESOLVER = "acme"
ACME_KEY_TYPE = "EC256"  # Traefik's default is RSA4096: larger, and several times slower to handshake
HEADERS_MIDDLEWARE = "security-headers"
FORBIDDEN_MIDDLEWARE = "forbidden"
WEBSOCKET_AUTH_MIDDLEWARE = "websocket-session"
NOT_FOUND_ROUTER = "not-found"
UPGRADE_REFUSED_ROUTER = "upgrade-refused"
UPGRADE_GUARD_SUFFIX = "-upgrade-refused"
FORBIDDEN_ORIGIN_SUFFIX = "-forbidden-origin"
# Any non-empty Upgrade header: Go's reverse proxy switches protocols for whatever it names.
UPGRADE_RULE = "HeaderRegexp(`Upgrade`, `.`)"
# Priorities: not-found (1) < catch-all upgrade guard (2) < every route's routers, ordered by the
# route path's length first, then by the router's tier within its route.
NOT_FOUND_PRIORITY = 1
UPGRADE_REFUSED_PRIORITY = 2
ROUTE_PRIORITY_BASE = 10
ROUTE_TIERS = 2  # 0: the route / a WebSocket route's forbidden-origin router; 1: its guard / allowed router
# Traefik's built-in service that answers every request without a backend (with 418).
NOOP_SERVICE = "noop@internal"
NOOP_STATUS = 418
NOT_FOUND_MIDDLEWARE = "not-found"
# An allow-list that matches no client: the ipAllowList middleware then answers 403 Forbidden.
NO_CLIENT_RANGE = "255.255.255.255/32"
# Request headers the session check needs (the session cookie or token, and the origin).
AUTH_REQUEST_HEADERS = ("Cookie", "Authorization", "Origin")

# Limit on the auth endpoint's answer that Traefik relays to a refused client (it buffers it).
FORWARD_AUTH_MAX_BODY_BYTES = 64 * 1024
# Request hygiene on every entrypoint. Headers whose names alias a managed one (X_Forwarded_For,
# X.Auth.User) are dropped: CGI/WSGI-style backends would read them as the real header. Encoded
# characters that backends decode differently from Traefik's router (split view) are refused.
REQUEST_HYGIENE: dict[str, Any] = {
    "aliasHeadersStrategy": "delete",
    "encodedCharacters": {
        "allowEncodedSlash": False,
        "allowEncodedBackSlash": False,
        "allowEncodedNullCharacter": False,
        "allowEncodedSemicolon": False,
        "allowEncodedPercent": False,
        "allowEncodedQuestionMark": False,
        "allowEncodedHash": False,
    },
}

CONTAINER_WEB_PORT = 80
CONTAINER_WEBSECURE_PORT = 443


@dataclass(frozen=True)
class TraefikLayout:
    """Where things are inside the edge container, and how it reaches backends. The defaults are
    the container's; host tests pass loopback addresses and temporary directories."""

    config_dir: str = "/etc/traefik"  # static + dynamic configuration, public certificates (read-only)
    secrets_dir: str = "/var/lib/traefik"  # acme.json and the TLS private key (Traefik writes here)
    logs_dir: str = "/var/log/traefik"
    web_address: str = f":{CONTAINER_WEB_PORT}"
    websecure_address: str = f":{CONTAINER_WEBSECURE_PORT}"
    ping_address: str = "127.0.0.1:8082"  # healthcheck only; never published
    backend_hosts: Mapping[str, str] = field(default_factory=dict)  # service name -> host name
    acme_ca_certificates: tuple[str, ...] = ()  # extra roots for a private ACME server (tests: Pebble)

    @property
    def config_file(self) -> str:
        return f"{self.config_dir}/traefik.yml"

    @property
    def dynamic_dir(self) -> str:
        return f"{self.config_dir}/dynamic"

    @property
    def dynamic_file(self) -> str:
        return f"{self.dynamic_dir}/edge.yml"

    @property
    def certificate_file(self) -> str:
        return f"{self.config_dir}/certs/edge.crt"

    @property
    def private_key_file(self) -> str:
        return f"{self.secrets_dir}/tls/edge.key"

    @property
    def acme_storage(self) -> str:
        return f"{self.secrets_dir}/acme.json"

    @property
    def traefik_log(self) -> str:
        return f"{self.logs_dir}/traefik.log"

    @property
    def access_log(self) -> str:
        return f"{self.logs_dir}/traefik-access.log"


def _port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def redirect_target(settings: EdgeSettings, layout: TraefikLayout) -> str:
    """The redirection target: the websecure entrypoint when clients reach it on the port it
    listens on, else the published HTTPS port (Docker maps it to the container's 443)."""
    if _port_of(layout.websecure_address) == settings.ports.https:
        return "websecure"
    return f":{settings.ports.https}"


def _hygiene() -> dict[str, Any]:
    return {
        "aliasHeadersStrategy": REQUEST_HYGIENE["aliasHeadersStrategy"],
        "encodedCharacters": dict(REQUEST_HYGIENE["encodedCharacters"]),
    }


def render_static(settings: EdgeSettings, layout: TraefikLayout) -> dict[str, Any]:
    static: dict[str, Any] = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "entryPoints": {
            "web": {
                "address": layout.web_address,
                "http": {
                    **_hygiene(),
                    "redirections": {
                        "entryPoint": {
                            "to": redirect_target(settings, layout),
                            "scheme": "https",
                            "permanent": True,
                        }
                    },
                },
            },
            "websecure": {
                "address": layout.websecure_address,
                "asDefault": True,
                "http": {**_hygiene(), "tls": {}},
            },
            "ping": {"address": layout.ping_address, "http": _hygiene()},
        },
        "ping": {"entryPoint": "ping"},
        "providers": {"file": {"directory": layout.dynamic_dir, "watch": False}},
        "log": {"level": settings.log_level, "format": "json", "filePath": layout.traefik_log},
        "accessLog": {
            "format": "json",
            "filePath": layout.access_log,
            # Request and response headers carry cookies and tokens: keep them out of the log.
            "fields": {"defaultMode": "keep", "headers": {"defaultMode": "drop"}},
        },
    }
    mode = settings.certificates.mode
    if mode == "acme":
        acme = settings.certificates.acme
        resolver: dict[str, Any] = {
            "email": acme.email,
            "storage": layout.acme_storage,
            "caServer": acme.directory,
            "keyType": ACME_KEY_TYPE,
            "certificatesDuration": acme.certificates_duration,
            "httpChallenge": {"entryPoint": "web"},
        }
        if layout.acme_ca_certificates:
            resolver["caCertificates"] = list(layout.acme_ca_certificates)
        static["certificatesResolvers"] = {ACME_RESOLVER: {"acme": resolver}}
    if mode == "custom":
        # Staple OCSP responses for certificates that name a responder (existing PKI often does).
        static["ocsp"] = {}
    return static


def tls_options(settings: EdgeSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "minVersion": TLS_VERSIONS[settings.tls.effective_min_version],
        "curvePreferences": list(CURVE_PREFERENCES),
        "sniStrict": True,
    }
    if options["minVersion"] == "VersionTLS12":
        options["cipherSuites"] = list(INTERMEDIATE_CIPHER_SUITES)
    return options


def headers_middleware(settings: EdgeSettings) -> dict[str, Any]:
    headers = settings.headers
    return {
        "headers": {
            "stsSeconds": headers.sts_seconds,
            "stsIncludeSubdomains": headers.sts_include_subdomains,
            "stsPreload": headers.sts_preload,
            "contentSecurityPolicy": headers.content_security_policy,
            "contentTypeNosniff": True,
            "referrerPolicy": headers.referrer_policy,
            "permissionsPolicy": headers.permissions_policy,
            # An empty value removes the header: do not advertise backend software.
            "customResponseHeaders": {"Server": "", "X-Powered-By": ""},
        }
    }


_RULE_VALUE = re.compile(r"[\x21-\x5f\x61-\x7e]+")  # printable ASCII without space and backquote


def _quote(value: str) -> str:
    """A rule value in Traefik's backquotes. Settings validate every value; this refuses what
    could still end the quoting or break the rule (backquote, space, control or non-ASCII)."""
    if not _RULE_VALUE.fullmatch(value):
        raise ValueError(f"not allowed in a Traefik rule value (printable ASCII, no backquote): {value!r}")
    return f"`{value}`"


def route_priority(route: RouteSettings, tier: int) -> int:
    """Longer paths win over shorter ones on the same host; `tier` orders a route's own routers."""
    assert 0 <= tier < ROUTE_TIERS
    return ROUTE_PRIORITY_BASE + ROUTE_TIERS * len(route.path) + tier


def origin_regexp(origins: list[str]) -> str:
    """An anchored Go regexp matching exactly these origins (dots escaped; origins are validated
    to contain only [a-z0-9.-:/])."""
    alternatives = "|".join(origin.replace(".", "\\.") for origin in sorted(origins))
    return f"^({alternatives})$"


def route_rule(route: RouteSettings) -> str:
    rule = f"Host({_quote(route.host)})"
    if route.path != "/":
        rule += f" && PathPrefix({_quote(route.path)})"
    return rule


def backend_service_name(route: RouteSettings) -> str:
    return f"{route.service}-{route.port}"


def _backend_url(service: str, port: int, layout: TraefikLayout) -> str:
    host = layout.backend_hosts.get(service, service)
    return f"http://{host}:{port}"


def render_dynamic(settings: EdgeSettings, layout: TraefikLayout) -> dict[str, Any]:
    mode = settings.certificates.mode
    router_tls: dict[str, Any] = {"certResolver": ACME_RESOLVER} if mode == "acme" else {}
    middlewares: dict[str, Any] = {HEADERS_MIDDLEWARE: headers_middleware(settings)}
    routers: dict[str, Any] = {}
    services: dict[str, Any] = {}

    def router(
        rule: str, service: str, chain: list[str], tls: dict[str, Any], priority: int | None = None
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "rule": rule,
            "entryPoints": ["websecure"],
            "service": service,
            "middlewares": [HEADERS_MIDDLEWARE, *chain],
            "tls": dict(tls),
        }
        if priority is not None:
            entry["priority"] = priority
        return entry

    def add(name: str, entry: dict[str, Any]) -> None:
        # A route named like another route's guard router must not replace it silently.
        if name in routers:
            raise ValueError(f"two Traefik routers named {name!r} (rename the route)")
        routers[name] = entry

    websocket_routes = False
    for name, route in sorted(settings.routes.items()):
        backend = backend_service_name(route)
        services[backend] = {
            "loadBalancer": {
                "servers": [{"url": _backend_url(route.service, route.port, layout)}],
                "passHostHeader": True,
            }
        }
        rule = route_rule(route)
        if not route.websocket:
            add(name, router(rule, backend, [], router_tls, route_priority(route, 0)))
            add(
                f"{name}{UPGRADE_GUARD_SUFFIX}",
                router(
                    f"{rule} && {UPGRADE_RULE}",
                    NOOP_SERVICE,
                    [FORBIDDEN_MIDDLEWARE],
                    router_tls,
                    route_priority(route, 1),
                ),
            )
            continue
        websocket_routes = True
        origin_rule = f"HeaderRegexp(`Origin`, {_quote(origin_regexp(settings.websocket.allowed_origins))})"
        add(
            name,
            router(
                f"{rule} && {origin_rule}",
                backend,
                [WEBSOCKET_AUTH_MIDDLEWARE],
                router_tls,
                route_priority(route, 1),
            ),
        )
        add(
            f"{name}{FORBIDDEN_ORIGIN_SUFFIX}",
            router(rule, NOOP_SERVICE, [FORBIDDEN_MIDDLEWARE], router_tls, route_priority(route, 0)),
        )

    # Upgrades of paths no route claims (and of unknown hosts): 403, above the 404.
    add(
        UPGRADE_REFUSED_ROUTER,
        router(UPGRADE_RULE, NOOP_SERVICE, [FORBIDDEN_MIDDLEWARE], {}, priority=UPGRADE_REFUSED_PRIORITY),
    )
    middlewares[FORBIDDEN_MIDDLEWARE] = {"ipAllowList": {"sourceRange": [NO_CLIENT_RANGE]}}

    if websocket_routes:
        auth = settings.websocket.auth
        assert auth is not None  # EdgeSettings requires it with a websocket route
        forward_auth: dict[str, Any] = {
            "address": _backend_url(auth.service, auth.port, layout) + auth.path,
            "trustForwardHeader": False,
            "authRequestHeaders": list(AUTH_REQUEST_HEADERS),
            "maxResponseBodySize": FORWARD_AUTH_MAX_BODY_BYTES,
        }
        if auth.response_headers:
            forward_auth["authResponseHeaders"] = list(auth.response_headers)
        middlewares[WEBSOCKET_AUTH_MIDDLEWARE] = {"forwardAuth": forward_auth}

    # Lowest priority: whatever no route claims gets Traefik's 404, with the security headers.
    add(
        NOT_FOUND_ROUTER,
        router("PathPrefix(`/`)", NOOP_SERVICE, [NOT_FOUND_MIDDLEWARE], {}, priority=NOT_FOUND_PRIORITY),
    )
    middlewares[NOT_FOUND_MIDDLEWARE] = {
        "errors": {
            "status": [str(NOOP_STATUS)],
            "statusRewrites": {str(NOOP_STATUS): 404},
            "service": NOOP_SERVICE,
            "query": "/",
        }
    }

    tls: dict[str, Any] = {"options": {"default": tls_options(settings)}}
    if mode in ("custom", "dev"):
        tls["certificates"] = [{"certFile": layout.certificate_file, "keyFile": layout.private_key_file}]
    return {
        "http": {"routers": routers, "middlewares": middlewares, "services": services},
        "tls": tls,
    }


def to_yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, default_flow_style=False, width=1000)


def render_files(settings: EdgeSettings, layout: TraefikLayout) -> dict[str, str]:
    """Path inside the container -> file content, for the static and the dynamic configuration
    (both under `layout.config_dir`)."""
    return {
        layout.config_file: to_yaml(render_static(settings, layout)),
        layout.dynamic_file: to_yaml(render_dynamic(settings, layout)),
    }
