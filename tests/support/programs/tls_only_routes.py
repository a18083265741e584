"""Rule tls-only-routes: plain-text routes in every form Traefik accepts."""

from __future__ import annotations

import base64

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from . import SWARM_DAEMON, violation
from .baseline import (
    DYNAMIC_CONFIG,
    STATIC_CONFIG,
    TRAEFIK_IMAGE,
    app,
    edge,
    hardened,
    internal_network,
    luks_volume,
)
from .tls_only_routes_traefik_sources import STATIC_ENV, STATIC_FLAGS

RULE = "tls-only-routes"

PLAIN_ROUTER = """\
http:
  routers:
    api:
      rule: Host(`api.example.test`)
      entryPoints: [web]
      service: api
      middlewares: [secure-headers@file]
  services:
    api:
      loadBalancer:
        servers: [{url: "http://app:8080"}]
"""


def _platform() -> docker.Network:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol)
    return net


def _labels(**pairs: str) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in pairs.items()]


@violation(RULE, resource="whoami", exact=True)
def container_labels_plain_router() -> None:
    """Docker-provider labels: a router on the plain entrypoint without TLS."""
    net = _platform()
    edge(net)
    docker.Container(
        "whoami",
        **hardened(
            name="whoami",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            labels=_labels(
                **{
                    "encrypted-platform.role": "service",
                    "traefik.enable": "true",
                    "traefik.http.routers.whoami.rule": "Host(`whoami.example.test`)",
                    "traefik.http.routers.whoami.entrypoints": "web",
                    "traefik.http.routers.whoami.middlewares": "secure-headers@file",
                }
            ),
        ),
    )


@violation(RULE, resource="dashboard", exact=True)
def container_labels_tls_false() -> None:
    """A router that sets tls=false explicitly (on the TLS entrypoint, which has TLS by default)."""
    net = _platform()
    edge(net, static=STATIC_CONFIG.replace("      tls: {}\n", ""))
    docker.Container(
        "dashboard",
        **hardened(
            name="dashboard",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            labels=_labels(
                **{
                    "encrypted-platform.role": "service",
                    "traefik.http.routers.dash.rule": "Host(`dash.example.test`)",
                    "traefik.http.routers.dash.entrypoints": "websecure",
                    "traefik.http.routers.dash.tls": "false",
                    "traefik.http.routers.dash.middlewares": "secure-headers@file",
                }
            ),
        ),
    )


@violation(RULE, resource="whoami", exact=True)
def implicit_router_from_enable_label() -> None:
    """traefik.enable=true and nothing else: the provider invents a plain router."""
    net = _platform()
    edge(net)
    docker.Container(
        "whoami",
        **hardened(
            name="whoami",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            labels=_labels(**{"encrypted-platform.role": "service", "traefik.enable": "true"}),
        ),
    )


@violation(RULE, resource="search", exact=True, pack_config=SWARM_DAEMON)
def swarm_service_labels_plain_router() -> None:
    """Swarm-provider labels on a service."""
    net = internal_network("swarm-net", driver="overlay", options={"encrypted": "true"})
    _cmd, vol = luks_volume("appdata")
    app(internal_network("app-net"), vol)
    edge(net)
    docker.Service(
        "search",
        name="search",
        labels=[
            docker.ServiceLabelArgs(label="encrypted-platform.role", value="service"),
            docker.ServiceLabelArgs(
                label="traefik.http.routers.search.rule", value="Host(`search.example.test`)"
            ),
            docker.ServiceLabelArgs(label="traefik.http.routers.search.entrypoints", value="web,websecure"),
            docker.ServiceLabelArgs(
                label="traefik.http.routers.search.middlewares", value="secure-headers@file"
            ),
            docker.ServiceLabelArgs(
                label="traefik.http.services.search.loadbalancer.server.port", value="8080"
            ),
        ],
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image="ghcr.io/example/search:3@sha256:" + "12" * 32,
                read_only=True,
                healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(tests=["CMD", "true"]),
            ),
            networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=net.name)],
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=1 << 29)
            ),
        ),
    )


@violation(RULE, resource="edge", exact=True)
def dynamic_file_plain_router() -> None:
    """An uploaded dynamic file with a router on the plain entrypoint."""
    net = _platform()
    edge(
        net,
        uploads=[
            docker.ContainerUploadArgs(file="/etc/traefik/traefik.yml", content=STATIC_CONFIG),
            docker.ContainerUploadArgs(file="/etc/traefik/dynamic/routes.yml", content=DYNAMIC_CONFIG),
            docker.ContainerUploadArgs(file="/etc/traefik/dynamic/api.yml", content=PLAIN_ROUTER),
        ],
    )


@violation(RULE, resource="edge", exact=True)
def dynamic_toml_plain_router() -> None:
    """The same mistake in TOML."""
    net = _platform()
    toml = """[http.routers.api]
rule = "Host(`api.example.test`)"
entryPoints = ["web"]
service = "api"
middlewares = ["secure-headers@file"]
[http.services.api.loadBalancer]
[[http.services.api.loadBalancer.servers]]
url = "http://app:8080"
"""
    edge(
        net,
        uploads=[
            docker.ContainerUploadArgs(file="/etc/traefik/traefik.yml", content=STATIC_CONFIG),
            docker.ContainerUploadArgs(file="/etc/traefik/dynamic/routes.yml", content=DYNAMIC_CONFIG),
            docker.ContainerUploadArgs(file="/etc/traefik/dynamic/api.toml", content=toml),
        ],
    )


@violation(RULE, resource="edge", exact=True)
def cli_flag_insecure_skip_verify() -> None:
    """A command-line flag that turns off backend certificate verification."""
    net = _platform()
    edge(
        net,
        command=["traefik", *STATIC_FLAGS, "--serversTransport.insecureSkipVerify=true"],
        uploads=[docker.ContainerUploadArgs(file="/etc/traefik/dynamic/routes.yml", content=DYNAMIC_CONFIG)],
    )


@violation(RULE, resource="edge", exact=True)
def env_api_insecure() -> None:
    """TRAEFIK_* environment (no file, no flags: Traefik reads it): the dashboard on a plain entrypoint."""
    net = _platform()
    edge(
        net,
        command=[],
        envs=[*STATIC_ENV, "TRAEFIK_API_INSECURE=true", "TRAEFIK_API_DASHBOARD=true"],
        uploads=[docker.ContainerUploadArgs(file="/etc/traefik/dynamic/routes.yml", content=DYNAMIC_CONFIG)],
    )


@violation(RULE, resource="edge", exact=True)
def static_file_skip_verify_and_http_redirect() -> None:
    """Static file: insecureSkipVerify and a redirect to http."""
    net = _platform()
    static = (
        STATIC_CONFIG.replace("scheme: https", "scheme: http")
        + "serversTransport:\n  insecureSkipVerify: true\n"
    )
    edge(net, static=static)


@violation(RULE, resource="edge", exact=True)
def tls_option_allows_tls10() -> None:
    """A TLS option that accepts TLS 1.0."""
    net = _platform()
    edge(net, dynamic=DYNAMIC_CONFIG + "    legacy:\n      minVersion: VersionTLS10\n")


@violation(RULE, resource="edge", exact=True)
def tcp_router_without_tls() -> None:
    """A TCP router that forwards plain TCP."""
    net = _platform()
    tcp = (
        DYNAMIC_CONFIG
        + """tcp:
  routers:
    postgres:
      rule: HostSNI(`*`)
      entryPoints: [websecure]
      service: postgres
  services:
    postgres:
      loadBalancer:
        servers: [{address: "app-db:5432"}]
"""
    )
    edge(net, dynamic=tcp)


@violation(RULE, resource="routes", pack_config=SWARM_DAEMON)
def swarm_config_plain_router() -> None:
    """A Swarm config (base64) holding dynamic configuration with a plain router."""
    net = internal_network("swarm-net", driver="overlay", options={"encrypted": "true"})
    cfg = docker.ServiceConfig("routes", name="routes", data=base64.b64encode(PLAIN_ROUTER.encode()).decode())
    docker.Service(
        "edge",
        name="edge",
        labels=[docker.ServiceLabelArgs(label="encrypted-platform.role", value="edge")],
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image=TRAEFIK_IMAGE,
                commands=["traefik"],
                args=["--providers.file.directory=/etc/traefik/dynamic"],
                configs=[
                    docker.ServiceTaskSpecContainerSpecConfigArgs(
                        config_id=cfg.id, config_name=cfg.name, file_name="/etc/traefik/dynamic/routes.yml"
                    )
                ],
                read_only=True,
                healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
                    tests=["CMD", "traefik", "healthcheck"]
                ),
            ),
            networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=net.name)],
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=1 << 28)
            ),
        ),
        endpoint_spec=docker.ServiceEndpointSpecArgs(
            ports=[docker.ServiceEndpointSpecPortArgs(target_port=443, published_port=443)]
        ),
    )


@violation(RULE, resource="edge", exact=True, variants=("preview",))
def edge_upload_unknown_at_preview() -> None:
    """The dynamic file embeds a generated value: unknown at preview, so it cannot be checked."""
    net = _platform()
    token = random.RandomPassword("dashboard-token", length=24, special=False)
    dynamic = token.result.apply(
        lambda t: DYNAMIC_CONFIG.replace("app.example.test", f"{t[:8].lower()}.example.test")
    )
    edge(
        net,
        uploads=[
            docker.ContainerUploadArgs(file="/etc/traefik/traefik.yml", content=STATIC_CONFIG),
            docker.ContainerUploadArgs(
                file="/etc/traefik/dynamic/routes.yml", content=pulumi.Output.secret(dynamic)
            ),
        ],
    )


@violation(RULE, resource="edge", exact=True)
def edge_config_from_operator_file() -> None:
    """An upload read from the operator's machine: the pack cannot see it."""
    net = _platform()
    edge(
        net,
        uploads=[
            docker.ContainerUploadArgs(file="/etc/traefik/traefik.yml", content=STATIC_CONFIG),
            docker.ContainerUploadArgs(file="/etc/traefik/dynamic/routes.yml", source="./traefik/routes.yml"),
        ],
    )


def _edge_with_config_from_command(stdin: pulumi.Input[str]) -> None:
    """The edge reads its files from an encrypted volume that a host Command writes them onto."""
    import pulumi_command as command

    net = _platform()
    luks_cmd, cfg = luks_volume("edgecfg", device="/dev/vdc")
    static = command.local.Command(
        "edge-static",
        create="install -D -m 0644 /dev/stdin /srv/edgecfg/data/traefik.yml",
        stdin=STATIC_CONFIG,
        opts=pulumi.ResourceOptions(depends_on=[luks_cmd]),
    )
    dynamic = command.local.Command(
        "edge-dynamic",
        create="install -D -m 0644 /dev/stdin /srv/edgecfg/data/dynamic/routes.yml",
        stdin=stdin,
        opts=pulumi.ResourceOptions(depends_on=[luks_cmd]),
    )
    edge(
        net,
        uploads=[],
        mounts=[
            docker.ContainerMountArgs(type="volume", source=cfg.name, target="/etc/traefik", read_only=True)
        ],
        opts=pulumi.ResourceOptions(depends_on=[static, dynamic]),
    )


@violation(RULE, resource="edge-dynamic", exact=True)
def dynamic_file_written_by_host_command() -> None:
    """A plain router in a dynamic file a host Command writes from stdin."""
    plain_router = "    api:\n      rule: Host(`api.example.test`)\n      entryPoints: [web]\n      service: app\n      middlewares: [secure-headers@file]\n"
    _edge_with_config_from_command(DYNAMIC_CONFIG.replace("  routers:\n", "  routers:\n" + plain_router, 1))


@violation(RULE, resource="edge-dynamic", exact=True, variants=("preview",))
def dynamic_file_from_command_unknown_at_preview() -> None:
    """The dynamic file a host Command writes is computed from a generated value: unknown at preview."""
    token = random.RandomPassword("route-token", length=12, special=False)
    _edge_with_config_from_command(
        token.result.apply(lambda t: DYNAMIC_CONFIG.replace("app.example.test", f"{t.lower()}.example.test"))
    )


@violation(RULE, "traefik-providers-visible", resource="worker", exact=True, variants=("preview",))
def labels_unknown_with_docker_provider() -> None:
    """The edge reads container labels (Docker provider over TCP); a container's labels are
    computed from a generated value, so its routers are unknown at preview (and the provider itself
    reads containers the pack cannot see)."""
    net = _platform()
    static = STATIC_CONFIG.replace(
        "providers:\n",
        "providers:\n  docker: {endpoint: 'tcp://docker-proxy:2375', exposedByDefault: false}\n",
        1,
    )
    edge(net, static=static)
    suffix = random.RandomPassword("worker-suffix", length=6, special=False)
    labels = suffix.result.apply(
        lambda s: [
            docker.ContainerLabelArgs(label="encrypted-platform.role", value="service"),
            docker.ContainerLabelArgs(
                label="traefik.http.routers.worker.rule", value=f"Host(`w{s.lower()}.example.test`)"
            ),
        ]
    )
    docker.Container(
        "worker",
        **hardened(
            name="worker",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            labels=labels,
        ),
    )
