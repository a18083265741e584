"""Providers the pack cannot see (rule traefik-providers-visible): routers that come from
anywhere but the files the pack reads, whichever static source turns the provider on."""

from __future__ import annotations

from . import violation
from .baseline import STATIC_CONFIG, edge
from .tls_only_routes_traefik_sources import STATIC_ENV, STATIC_FLAGS, app_platform, dynamic_upload

PROVIDERS_RULE = "traefik-providers-visible"


def _edge_with_provider(provider_yaml: str) -> None:
    net = app_platform()
    static = STATIC_CONFIG.replace("providers:\n", "providers:\n" + provider_yaml, 1)
    edge(net, static=static)


@violation(PROVIDERS_RULE, resource="edge", exact=True)
def http_provider() -> None:
    """providers.http: routers fetched from an endpoint at run time."""
    _edge_with_provider("  http: {endpoint: 'https://config.example.test/traefik', pollInterval: 10s}\n")


@violation(PROVIDERS_RULE, resource="edge", exact=True)
def redis_provider() -> None:
    """providers.redis: routers stored in a key-value store."""
    _edge_with_provider("  redis: {endpoints: ['redis:6379'], rootKey: traefik}\n")


@violation(PROVIDERS_RULE, resource="edge", exact=True)
def docker_provider_over_plain_tcp() -> None:
    """providers.docker over tcp://: every container's labels on the daemon, read in clear text."""
    _edge_with_provider("  docker: {endpoint: 'tcp://docker-proxy:2375', exposedByDefault: false}\n")


@violation(PROVIDERS_RULE, resource="edge", exact=True)
def docker_provider_by_flag_without_a_file() -> None:
    """--providers.docker (a bare flag): the flags are the static source, the provider is on."""
    net = app_platform()
    edge(net, command=["traefik", *STATIC_FLAGS, "--providers.docker"], uploads=[dynamic_upload()])


@violation(PROVIDERS_RULE, resource="edge", exact=True)
def kubernetes_crd_provider_by_environment() -> None:
    """TRAEFIK_PROVIDERS_KUBERNETESCRD=true with no file and no flags: the environment applies."""
    net = app_platform()
    edge(
        net,
        command=[],
        envs=[*STATIC_ENV, "TRAEFIK_PROVIDERS_KUBERNETESCRD=true"],
        uploads=[dynamic_upload()],
    )


@violation(PROVIDERS_RULE, resource="edge", exact=True)
def plugin_provider() -> None:
    """A provider plugin: its routers are whatever the plugin returns."""
    _edge_with_provider("  plugin:\n    remote-routes: {url: 'https://routes.example.test'}\n")
