"""Rule websocket-routes-guarded: WebSocket routers without an Origin allow-list or a session
check (forwardAuth) before the upgrade, in the forms a teammate writes them."""

from __future__ import annotations

import pulumi_docker as docker

from . import violation
from .baseline import DYNAMIC_CONFIG, app, edge, hardened, internal_network, luks_volume

RULE = "websocket-routes-guarded"
ORIGIN = "HeaderRegexp(`Origin`, `^(https://app\\.example\\.test)$`)"
SESSION_MIDDLEWARE = """    session:
      forwardAuth:
        address: http://auth:9000/verify
        authRequestHeaders: [Cookie, Origin]
"""
EVENTS_SERVICE = """    events:
      loadBalancer:
        servers:
          - url: http://events:8080
"""


def dynamic_with(router: str, *, middlewares: str = SESSION_MIDDLEWARE) -> str:
    """The baseline's dynamic file plus one router (YAML under http.routers), the session
    middleware and the events service."""
    return (
        DYNAMIC_CONFIG.replace("  routers:\n", "  routers:\n" + router, 1)
        .replace("  middlewares:\n", "  middlewares:\n" + middlewares, 1)
        .replace("  services:\n", "  services:\n" + EVENTS_SERVICE, 1)
    )


def router(name: str, rule: str, *, middlewares: str = "[]", service: str = "events") -> str:
    return (
        f"    {name}:\n      rule: '{rule}'\n      entryPoints: [websecure]\n"
        f"      service: {service}\n      middlewares: {middlewares}\n      tls: {{}}\n"
    )


def _platform_with(dynamic: str, *, events: bool = True) -> docker.Network:
    """The baseline with `dynamic` as the edge's routes, and the auth service (and, unless the
    program brings its own, the events backend) on the internal network."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol)
    edge(net, dynamic=dynamic)
    for name in ("auth", "events") if events else ("auth",):
        docker.Container(
            name,
            **hardened(name=name, networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)]),
        )
    return net


@violation(RULE, resource="edge", exact=True)
def ws_path_without_origin_or_session() -> None:
    """Host + PathPrefix(`/ws`): neither Origin check nor session before the upgrade."""
    _platform_with(dynamic_with(router("events", "Host(`app.example.test`) && PathPrefix(`/ws`)")))


@violation(RULE, resource="edge", exact=True)
def ws_origin_checked_but_no_session() -> None:
    """The Origin allow-list is there; no forwardAuth: any logged-out page of the site upgrades."""
    _platform_with(
        dynamic_with(router("events", f"Host(`app.example.test`) && PathPrefix(`/ws`) && {ORIGIN}"))
    )


@violation(RULE, resource="edge", exact=True)
def ws_session_checked_but_no_origin() -> None:
    """forwardAuth without an Origin check: cross-site WebSocket hijacking with the victim's cookie."""
    _platform_with(
        dynamic_with(
            router("events", "Host(`app.example.test`) && PathPrefix(`/ws`)", middlewares="[session]")
        )
    )


@violation(RULE, resource="edge", exact=True)
def ws_origin_in_one_alternative_only() -> None:
    """The Origin check guards one alternative; `|| PathPrefix(`/socket.io`)` bypasses it."""
    rule = f"Host(`app.example.test`) && PathPrefix(`/ws`) && {ORIGIN} || PathPrefix(`/socket.io`)"
    _platform_with(dynamic_with(router("events", rule, middlewares="[session]")))


@violation(RULE, resource="edge", exact=True)
def ws_origin_pattern_is_a_wildcard() -> None:
    """HeaderRegexp(`Origin`, `^https://.*$`): anchored, but any site passes."""
    rule = "Host(`app.example.test`) && PathPrefix(`/ws`) && HeaderRegexp(`Origin`, `^https://.*$`)"
    _platform_with(dynamic_with(router("events", rule, middlewares="[session]")))


@violation(RULE, resource="edge", exact=True)
def ws_origin_negated() -> None:
    """!HeaderRegexp(`Origin`, ...) only refuses the listed origin."""
    rule = (
        "Host(`app.example.test`) && PathPrefix(`/ws`) && !HeaderRegexp(`Origin`, `^(https://evil\\.test)$`)"
    )
    _platform_with(dynamic_with(router("events", rule, middlewares="[session]")))


@violation(RULE, resource="edge", exact=True)
def ws_router_matching_the_upgrade_header() -> None:
    """A router for every upgrade of the host (rule on the Upgrade header), unguarded."""
    rule = "Host(`app.example.test`) && HeaderRegexp(`Upgrade`, `(?i)^websocket$`)"
    _platform_with(dynamic_with(router("upgrades", rule)))


@violation(RULE, resource="edge", exact=True)
def ws_path_in_upper_case() -> None:
    """Path(`/WebSocket`): the WebSocket word in another letter case."""
    _platform_with(dynamic_with(router("live", "Host(`app.example.test`) && Path(`/WebSocket`)")))


@violation(RULE, resource="edge", exact=True)
def ws_router_named_for_websockets() -> None:
    """No WebSocket path (/live), but the router is named chat-ws."""
    _platform_with(dynamic_with(router("chat-ws", "Host(`app.example.test`) && PathPrefix(`/live`)")))


@violation(RULE, resource="edge", exact=True)
def ws_backend_labelled_websocket() -> None:
    """/updates goes to a service whose URL names a container labelled encrypted-platform.websocket."""
    net = _platform_with(
        dynamic_with(router("updates", "Host(`app.example.test`) && PathPrefix(`/updates`)"))
    )
    docker.Container(
        "events",
        **hardened(
            name="events",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            labels=[
                docker.ContainerLabelArgs(label="encrypted-platform.role", value="service"),
                docker.ContainerLabelArgs(label="encrypted-platform.websocket", value="true"),
            ],
        ),
    )


@violation(RULE, resource="chat", exact=True)
def ws_router_in_container_labels() -> None:
    """Docker-provider labels: PathPrefix(`/socket`) with TLS and headers, but no guard."""
    net = _platform_with(DYNAMIC_CONFIG)
    docker.Container(
        "chat",
        **hardened(
            name="chat",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            labels=[
                docker.ContainerLabelArgs(label="encrypted-platform.role", value="service"),
                docker.ContainerLabelArgs(label="traefik.enable", value="true"),
                docker.ContainerLabelArgs(
                    label="traefik.http.routers.chat.rule",
                    value="Host(`app.example.test`) && PathPrefix(`/socket`)",
                ),
                docker.ContainerLabelArgs(label="traefik.http.routers.chat.entrypoints", value="websecure"),
                docker.ContainerLabelArgs(label="traefik.http.routers.chat.tls", value="true"),
            ],
        ),
    )


def guarded_websocket_route() -> None:
    """A compliant WebSocket route: Origin allow-list in the rule and forwardAuth (must pass)."""
    rule = f"Host(`app.example.test`) && PathPrefix(`/ws`) && {ORIGIN}"
    _platform_with(dynamic_with(router("events", rule, middlewares="[session]")))
