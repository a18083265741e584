"""Rule security-headers: routers without the required response headers."""

from __future__ import annotations

import pulumi_docker as docker

from . import violation
from .baseline import DYNAMIC_CONFIG, STATIC_CONFIG, app, edge, hardened, internal_network, luks_volume

RULE = "security-headers"


def _platform() -> docker.Network:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol)
    return net


@violation(RULE, resource="edge", exact=True)
def no_headers_middleware() -> None:
    """The entrypoint lost its headers middleware and the router has none."""
    net = _platform()
    edge(net, static=STATIC_CONFIG.replace("      middlewares: [secure-headers@file]\n", ""))


@violation(RULE, resource="edge", exact=True)
def short_hsts_without_subdomains() -> None:
    """HSTS of five minutes, without includeSubDomains."""
    net = _platform()
    edge(
        net,
        dynamic=DYNAMIC_CONFIG.replace("stsSeconds: 31536000", "stsSeconds: 300").replace(
            "stsIncludeSubdomains: true", "stsIncludeSubdomains: false"
        ),
    )


@violation(RULE, resource="edge", exact=True)
def csp_without_frame_ancestors() -> None:
    """A CSP that does not restrict framing, and no Referrer-Policy."""
    net = _platform()
    edge(
        net,
        dynamic=DYNAMIC_CONFIG.replace("; frame-ancestors 'self'", "").replace(
            "        referrerPolicy: strict-origin-when-cross-origin\n", ""
        ),
    )


@violation(RULE, resource="grafana", exact=True)
def label_router_with_weak_headers() -> None:
    """A labels-defined router with its own headers middleware that misses nosniff."""
    net = _platform()
    edge(net, static=STATIC_CONFIG.replace("      middlewares: [secure-headers@file]\n", ""))
    labels = {
        "encrypted-platform.role": "service",
        "traefik.http.routers.grafana.rule": "Host(`grafana.example.test`)",
        "traefik.http.routers.grafana.entrypoints": "websecure",
        "traefik.http.routers.grafana.tls": "true",
        "traefik.http.routers.grafana.middlewares": "grafana-headers",
        "traefik.http.middlewares.grafana-headers.headers.stsseconds": "63072000",
        "traefik.http.middlewares.grafana-headers.headers.stsincludesubdomains": "true",
        "traefik.http.middlewares.grafana-headers.headers.contentsecuritypolicy": "frame-ancestors 'none'",
        "traefik.http.middlewares.grafana-headers.headers.referrerpolicy": "no-referrer",
    }
    docker.Container(
        "grafana",
        **hardened(
            name="grafana",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in labels.items()],
        ),
    )
