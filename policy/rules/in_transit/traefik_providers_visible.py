"""Every provider a Traefik enables is one whose routers the pack reads.

The pack judges routers it can see: the file provider's files (known content, where Traefik reads
them) and the labels of this stack's workloads. Every other provider fetches routers at run time
from somewhere the pack never sees: an HTTP endpoint (`http`), the REST API (`rest`), key-value
stores (`redis`, `etcd`, `consul`, `zooKeeper`), orchestrators (`kubernetes*`, `knative`,
`consulCatalog`, `nomad`, `ecs`), plugins, and the Docker and Swarm providers, which read the
labels of every container on the daemon, not only this stack's (over `tcp://` the Docker API is
also spoken in clear text). Any of them in the static configuration Traefik loads (analysis.traefik:
one source, exactly as Traefik picks it) is a violation: routers from there could serve plain
HTTP or skip the headers and the WebSocket checks, and nothing would say so.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis.rule import Context, Finding, Rule
from analysis.traefik import VISIBLE_PROVIDERS, TraefikFacts, get

NAME = "traefik-providers-visible"
CLEAR_TEXT_SCHEMES = ("tcp://", "http://")


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.model is not None
    for provider in ctx.model.fact(TraefikFacts.of).providers:
        if provider.name in VISIBLE_PROVIDERS:
            continue
        src = provider.source
        endpoint = get(provider.conf, "endpoint") if isinstance(provider.conf, dict) else None
        clear = (
            f"; it reaches {endpoint} without TLS"
            if isinstance(endpoint, str) and endpoint.lower().startswith(CLEAR_TEXT_SCHEMES)
            else ""
        )
        yield Finding(
            src.resource,
            src.field,
            f"Traefik on {provider.workload.label} enables the '{provider.name}' provider "
            f"({src.describe()}), whose routers come from outside this stack at run time, so the pack "
            f"cannot verify their TLS, headers or WebSocket checks{clear}",
            "configure routing with the file provider only (providers.file.directory on a volume of "
            "this stack, files written from plain values), or add a reviewed exception",
            f"provider:{provider.name}",
        )


RULE = Rule(
    name=NAME,
    description=(
        "Traefik providers the pack can see: the static configuration Traefik loads enables the file "
        "provider only (no HTTP, REST, key-value, orchestrator, plugin, Docker or Swarm provider)."
    ),
    enforcement="mandatory",
    scope="stack",
    check=check,
)
