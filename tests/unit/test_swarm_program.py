"""Swarm mode under the SDK mock runtime: the whole topology for two nodes, and the settings that
must stop a preview (engine versions affected by CVE-2023-28840, volumes split across nodes)."""

from __future__ import annotations

import json
import shlex
from functools import cache
from typing import Any

import pytest

from components.settings import SettingsError, parse_settings
from components.settings.services import BUILTIN_SERVICES
from components.settings.swarm import encrypted_overlay_problem, parse_engine_version
from tests.support.program_runner import ProgramRun, Registration, is_secret, load_stack_config, run_program

pytestmark = pytest.mark.unit

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6b0ETJTxVgcNvE2Sw4V1bXbvo8VkD2q0m9bVvT0m3a"
SSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key-only-a-marker\n-----END OPENSSH PRIVATE KEY-----"
)
SERVICE = "docker:index/service:Service"


def node(address: str, role: str = "worker", version: str = "24.0.7") -> dict[str, Any]:
    return {
        "role": role,
        "engineVersion": version,
        "host": {"mode": "ssh", "address": address, "hostKey": HOST_KEY, "user": "deploy", "become": True},
    }


def swarm_config(**swarm: Any) -> dict[str, Any]:
    config = load_stack_config("dev")
    config["edge"] = {"routes": {"app": {"host": "app.example.test", "service": "webapp", "port": 8080}}}
    config["swarm"] = {
        "enabled": True,
        "manager": "node-a",
        "nodes": {"node-a": node("192.0.2.11", "manager", "20.10.24"), "node-b": node("192.0.2.12")},
        "volumeNodes": {"app-db": "node-b", "vector-store": "node-b"},
        **swarm,
    }
    return config


@cache
def swarm_run() -> ProgramRun:
    return run_program(config=swarm_config(), secret_config={"sshPrivateKey": SSH_KEY})


def services(run: ProgramRun) -> dict[str, Registration]:
    return {r.name: r for r in run.of_type(SERVICE)}


def provider_of(run: ProgramRun, registration: Registration) -> str:
    return registration.provider.split("::")[3]


def test_every_service_becomes_a_swarm_service_through_the_manager() -> None:
    run = swarm_run()
    assert set(services(run)) == set(BUILTIN_SERVICES)
    assert not [c for c in run.of_type("docker:index/container:Container") if c.name != "edge"]
    for service in services(run).values():
        assert provider_of(run, service) == "node-node-a-docker"


def test_each_node_is_checked_before_anything_lands_on_it() -> None:
    run = swarm_run()
    preflights = {r.name: r for r in run.of_type("command:remote:Command") if r.name.startswith("preflight-")}
    assert set(preflights) == {"preflight-node-a", "preflight-node-b"}
    argv = shlex.split(preflights["preflight-node-a"].plain("create"))
    assert argv[:4] == ["sudo", "-n", "bash", "-c"] and argv[5] == "ep-swarm-preflight-node-a"
    program = argv[4]
    assert "EP_MIN_VERSION='20.10.24'" in program and "EP_HOSTNAME='node-a'" in program
    assert "no-new-privileges" in program
    for registration in [
        *run.of_type(SERVICE),
        *run.of_type("docker:index/network:Network"),
        *run.of_type("docker:index/secret:Secret"),
    ]:
        for preflight in preflights.values():
            assert preflight.urn in registration.dependencies, registration.name
    firewalls = [r for r in run.of_type("encrypted-platform:host:HostFirewall")]
    assert {f.name for f in firewalls} == {"firewall-node-a", "firewall-node-b"}


def test_overlays_are_encrypted_internal_and_the_ingress_is_local_to_the_edge_node() -> None:
    run = swarm_run()
    for network in run.of_type("docker:index/network:Network"):
        labels = {item["label"]: item["value"] for item in network.plain("labels")}
        role = labels["encrypted-platform.network.role"]
        if role == "ingress":
            assert network.plain("driver") == "bridge"
            continue
        assert network.plain("driver") == "overlay"
        assert network.plain("options") == {"encrypted": "true"}
        assert network.plain("internal") is (role == "internal")
        assert network.plain("attachable") is labels.get("encrypted-platform.network.link", "").startswith(
            "edge->"
        )


def test_stateful_services_are_pinned_to_the_node_of_their_volume() -> None:
    run = swarm_run()
    pinned = {
        name: s.plain("taskSpec").get("placement", {}).get("constraints") for name, s in services(run).items()
    }
    assert pinned["app-db"] == ["node.hostname == node-b"]
    assert pinned["vector-store"] == ["node.hostname == node-b"]
    assert pinned["webapp"] == ["node.hostname == node-a"]  # documents: on the manager by default
    assert pinned["ingestion"] is None and pinned["llm-gateway"] is None
    volumes = {
        v.parent.rsplit("::", 1)[1]: provider_of(run, v) for v in run.of_type("docker:index/volume:Volume")
    }
    assert volumes["app-db"] == "node-node-b-docker" and volumes["documents"] == "node-node-a-docker"
    mount = [
        m
        for m in services(run)["app-db"].plain("taskSpec")["containerSpec"]["mounts"]
        if m["type"] == "volume"
    ][0]
    assert mount["volumeOptions"]["driverOptions"] == {
        "type": "none",
        "o": "bind",
        "device": "/srv/encrypted/app-db/data",
    }


def test_secrets_are_swarm_secrets_never_environment() -> None:
    run = swarm_run()
    (secret,) = run.of_type("docker:index/secret:Secret")
    assert is_secret(secret.inputs["data"])
    password = [
        r
        for r in run.of_type("random:index/randomPassword:RandomPassword")
        if r.name == "secret-app-db-password"
    ][0].outputs["result"]
    for service in services(run).values():
        assert password not in json.dumps(service.plain("taskSpec"))
    refs = services(run)["app-db"].plain("taskSpec")["containerSpec"]["secrets"]
    assert [(r["fileName"], r["fileUid"], r["fileGid"], r["fileMode"]) for r in refs] == [
        ("/run/secrets/app-db-password", "70", "70", 256)
    ]


def test_swarm_services_publish_nothing_and_claim_no_pid_limit() -> None:
    for service in services(swarm_run()).values():
        assert service.plain("endpointSpec") == {"mode": "dnsrr"}
        spec = service.plain("taskSpec")["containerSpec"]
        assert spec["readOnly"] is True and spec["capDrops"] == ["ALL"]
        assert all(item["label"] != "encrypted-platform.pids-limit" for item in service.plain("labels"))


def test_the_edge_runs_on_the_edge_node_on_attachable_overlays() -> None:
    run = swarm_run()
    (edge,) = [c for c in run.of_type("docker:index/container:Container") if c.name == "edge"]
    assert provider_of(run, edge) == "node-node-a-docker"
    assert [n["name"] for n in edge.plain("networksAdvanced")] == ["ep-link--edge--webapp"]


@pytest.mark.parametrize(
    ("version", "problem"),
    [
        ("20.10.23", "older than 20.10.24"),
        ("19.03.15", "older than 20.10.24"),
        ("23.0.3", "fixed in 23.0.4"),
        ("20.10.24", None),
        ("20.10.24+dfsg1", None),
        ("23.0.4", None),
        ("24.0.7", None),
    ],
)
def test_engines_affected_by_cve_2023_28840_are_refused(version: str, problem: str | None) -> None:
    found = encrypted_overlay_problem(parse_engine_version(version))
    assert (found is None) if problem is None else (problem in (found or ""))


def test_an_old_engine_stops_the_preview_with_the_key_named() -> None:
    config = swarm_config(
        nodes={"node-a": node("192.0.2.11", "manager", "20.10.23"), "node-b": node("192.0.2.12")}
    )
    with pytest.raises(SettingsError) as caught:
        parse_settings(config)
    (message,) = caught.value.problems
    assert message.startswith(
        "encrypted-platform:swarm.nodes.node-a.engineVersion: engine 20.10.23 is older than 20.10.24"
    )
    assert "CVE-2023-28840" in message


@pytest.mark.parametrize(
    ("swarm", "expected"),
    [
        ({"volumeNodes": {"logs": "node-b"}}, "swarm.volumeNodes.logs: the edge runs on 'node-a'"),
        ({"volumeNodes": {"app-db": "node-c"}}, "swarm.volumeNodes.app-db: unknown node 'node-c'"),
        ({"manager": "node-b"}, "swarm.nodes.node-b.role: the manager node must have role 'manager'"),
        ({"encryptOverlays": False}, "swarm.encryptOverlays: must be true with more than one node"),
    ],
)
def test_bad_swarm_settings_stop_the_preview(swarm: dict[str, Any], expected: str) -> None:
    config = swarm_config(**swarm)
    with pytest.raises(SettingsError) as caught:
        parse_settings(config)
    assert any(expected in p for p in caught.value.problems), caught.value.problems
