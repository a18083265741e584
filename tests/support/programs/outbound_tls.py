"""Rule outbound-tls: plain URLs to the outside, switched-off verification."""

from __future__ import annotations

import pulumi_docker as docker

from . import SWARM_DAEMON, violation
from .baseline import app, boundary_network, hardened, internal_network, luks_volume

RULE = "outbound-tls"


def _egress(name: str, envs: list[str] | None = None, **overrides: object) -> None:
    net = internal_network("app-net")
    egress = boundary_network("egress", "egress")
    args = hardened(
        name=name,
        labels=[
            docker.ContainerLabelArgs(label="encrypted-platform.role", value="service"),
            docker.ContainerLabelArgs(label="encrypted-platform.egress", value="true"),
        ],
        envs=envs or [],
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(name=egress.name),
            docker.ContainerNetworksAdvancedArgs(name=net.name),
        ],
    )
    args.update(overrides)
    docker.Container(name, **args)


@violation(RULE, resource="llm-gateway", exact=True)
def plain_http_api_base() -> None:
    """The LLM API over plain HTTP."""
    _egress("llm-gateway", ["OPENAI_API_BASE=http://api.llm.example.com/v1", "APP_URL=http://app:8080"])


@violation(RULE, resource="webapp", exact=True)
def node_tls_reject_unauthorized() -> None:
    """Node.js told to accept any certificate."""
    _egress("webapp", ["NODE_TLS_REJECT_UNAUTHORIZED=0"])


@violation(RULE, resource="litellm", exact=True)
def ssl_verify_false() -> None:
    """A *_SSL_VERIFY switch."""
    _egress("litellm", ["LITELLM_SSL_VERIFY=false"])


@violation(RULE, resource="crawler", exact=True)
def empty_curl_ca_bundle() -> None:
    """An empty CURL_CA_BUNDLE turns verification off in requests."""
    _egress("crawler", ["CURL_CA_BUNDLE="])


@violation(RULE, resource="crawler", exact=True)
def insecure_skip_verify_env() -> None:
    """A Go client's INSECURE_SKIP_VERIFY switch."""
    _egress("crawler", ["OIDC_INSECURE_SKIP_VERIFY=true"])


@violation(RULE, resource="indexer", exact=True, pack_config=SWARM_DAEMON)
def swarm_service_pythonhttpsverify() -> None:
    """PYTHONHTTPSVERIFY=0 on a Swarm service."""
    net = internal_network("swarm-net", driver="overlay", options={"encrypted": "true"})
    docker.Service(
        "indexer",
        name="indexer",
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image="ghcr.io/example/indexer:2@sha256:" + "78" * 32,
                env={"PYTHONHTTPSVERIFY": "0"},
                read_only=True,
                healthcheck=docker.ServiceTaskSpecContainerSpecHealthcheckArgs(tests=["CMD", "true"]),
            ),
            networks_advanceds=[docker.ServiceTaskSpecNetworksAdvancedArgs(name=net.name)],
            resources=docker.ServiceTaskSpecResourcesArgs(
                limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=1 << 28)
            ),
        ),
    )


@violation(RULE, resource="fetcher", exact=True)
def curl_insecure_flag() -> None:
    """curl -k in the command."""
    _egress("fetcher", command=["curl", "-k", "-fsS", "https://feeds.example.com/daily.json"])


@violation(RULE, resource="app", exact=True)
def external_database_without_tls() -> None:
    """A managed database outside the stack, reached without TLS."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol, envs=["DATABASE_URL=postgresql://app@db.example.com:5432/app"])


@violation(RULE, resource="llm-gateway", exact=True)
def uploaded_config_disables_verification() -> None:
    """A YAML config file uploaded into the container with ssl_verify: false."""
    _egress(
        "llm-gateway",
        uploads=[
            docker.ContainerUploadArgs(
                file="/app/config.yaml",
                content="model_list:\n  - model_name: gpt\n    litellm_params:\n      api_base: https://api.llm.example.com\nlitellm_settings:\n  ssl_verify: false\n",
            )
        ],
    )


@violation(RULE, resource="edge", exact=True)
def traefik_backend_outside_over_http() -> None:
    """The edge forwards to a backend outside the stack over plain HTTP."""
    from .baseline import DYNAMIC_CONFIG, edge

    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol)
    edge(net, dynamic=DYNAMIC_CONFIG.replace("http://app:8080", "http://legacy.example.com:8080"))


@violation(RULE, resource="collector-client", exact=True)
def otlp_exporter_insecure() -> None:
    """OTEL_EXPORTER_OTLP_INSECURE=true: the settings refused it, the pack used to allow it."""
    net = internal_network("app-net")
    docker.Container(
        "collector-client",
        **hardened(
            name="collector-client",
            envs=["OTEL_EXPORTER_OTLP_INSECURE=true"],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
        ),
    )
