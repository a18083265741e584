"""The pure network plan: which networks exist and who joins them (behaviour is proven on a real
engine in tests/docker/test_isolation.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.isolation.network import EDGE, LINK_PREFIX, link_network_name, plan_networks
from components.settings import parse_settings
from components.settings.services import BUILTIN_SERVICES

pytestmark = pytest.mark.unit

OWNERS = {
    "app-db": {"dataOwner": "70:70"},
    "vector-store": {"dataOwner": "1000:1000"},
    "documents": {"dataOwner": "1000:1000"},
    "config-secrets": {},
    "logs": {"dataOwner": "10001:10001"},
}
EDGE_CONFIG = {
    "routes": {
        "app": {"host": "app.example.test", "service": "webapp", "port": 8080},
        "events": {
            "host": "app.example.test",
            "path": "/ws",
            "service": "webapp",
            "port": 8080,
            "websocket": True,
        },
    },
    "websocket": {
        "allowedOrigins": ["https://app.example.test"],
        "auth": {"service": "webapp", "port": 8080},
    },
}
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def settings(**raw: Any) -> Any:
    raw.setdefault("volumes", OWNERS)
    raw.setdefault("services", {name: {} for name in BUILTIN_SERVICES})
    return parse_settings(raw)


def test_one_internal_network_per_link_and_nothing_else_internal() -> None:
    config = settings()
    plan = plan_networks(config)
    internal = [n for n in plan.networks if n.internal]
    expected_links = {(name, callee) for name, s in config.services.items() for callee in s.connects}
    assert {n.link for n in internal} == expected_links
    for network in internal:
        assert network.role == "internal" and network.members == network.link
        assert network.name == link_network_name(*network.link)
        assert network.labels == {
            "encrypted-platform.network.role": "internal",
            "encrypted-platform.network.link": f"{network.link[0]}->{network.link[1]}",
        }
        assert network.options == {}  # inter-container traffic stays on: the pair must talk


def test_only_declared_egress_services_join_the_egress_network() -> None:
    plan = plan_networks(settings())
    (egress,) = [n for n in plan.networks if n.role == "egress"]
    assert set(egress.members) == {n for n, s in BUILTIN_SERVICES.items() if s.get("egress")}
    assert not egress.internal
    assert egress.options == {"com.docker.network.bridge.enable_icc": "false"}
    for service in BUILTIN_SERVICES:
        on_egress = any(a.network == "egress" for a in plan.of(service))
        assert on_egress is (service in egress.members)


def test_no_route_no_edge_network() -> None:
    plan = plan_networks(settings())
    assert [n for n in plan.networks if n.role == "ingress"] == []
    assert plan.of(EDGE) == ()


def test_the_edge_joins_ingress_and_the_links_of_what_it_routes_to() -> None:
    plan = plan_networks(settings(edge=EDGE_CONFIG))
    edge = plan.of(EDGE)
    assert [a.network for a in edge] == ["ingress", f"link-{EDGE}.webapp"]
    (ingress,) = [n for n in plan.networks if n.role == "ingress"]
    assert ingress.members == (EDGE,) and not ingress.internal
    # The callee answers to its own name on each link; the caller needs no alias.
    webapp_link = [a for a in plan.of("webapp") if a.network == f"link-{EDGE}.webapp"]
    assert webapp_link[0].aliases == ("webapp",)
    assert all(a.aliases == () for a in edge)


def test_callers_of_the_same_backend_do_not_share_a_network() -> None:
    plan = plan_networks(settings())
    webapp = {a.name for a in plan.of("webapp")}
    gateway = {a.name for a in plan.of("llm-gateway")}
    shared = webapp & gateway
    assert shared == {link_network_name("webapp", "llm-gateway"), "encrypted-platform-egress"}
    observability_links = [a.name for a in plan.of("observability")]
    assert sorted(observability_links) == sorted(
        [link_network_name("llm-gateway", "observability"), link_network_name("webapp", "observability")]
    )


def test_names_are_explicit_unique_and_valid_swarm_dns_labels() -> None:
    long_names = {
        "a" * 24: {"image": "example.org/a:1.0", "port": 80, "connects": ["b" * 24]},
        "b" * 24: {"image": "example.org/b:1.0", "port": 80},
    }
    plan = plan_networks(settings(services=long_names), swarm=True)
    names = [n.name for n in plan.networks]
    assert len(names) == len(set(names))
    for name in names:
        assert DNS_LABEL.match(name), name
        assert len(name) <= 63
    assert link_network_name("a" * 24, "b" * 24).startswith(LINK_PREFIX)


def test_swarm_overlays_are_encrypted_and_attachable_only_for_the_edge() -> None:
    plan = plan_networks(settings(edge=EDGE_CONFIG), swarm=True)
    for network in plan.networks:
        if network.role == "ingress":
            assert network.driver == "bridge"  # local to the edge's node, never the routing mesh
            continue
        assert network.driver == "overlay" and network.encrypted
        assert network.options == {"encrypted": "true"}
        assert network.attachable is (network.link is not None and network.link[0] == EDGE)


def test_disabled_services_have_no_networks() -> None:
    config = settings(
        services={
            **{name: {} for name in BUILTIN_SERVICES},
            "ingestion": {"enabled": False},
            "webapp": {"connects": ["app-db"]},
        }
    )
    plan = plan_networks(config)
    assert plan.of("ingestion") == ()
    assert all("ingestion" not in n.members for n in plan.networks)
