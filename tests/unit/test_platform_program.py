"""The whole program (__main__.py) under the SDK mock runtime with the dev stack's config: what
the engine and the policy pack would receive. Wiring only; tests/docker performs it for real."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pulumi
import pytest

from components.host import swap_limit_from_facts
from components.settings.services import BUILTIN_SERVICES
from tests.support.program_runner import (
    ProgramRun,
    RealisticMocks,
    Registration,
    is_secret,
    load_stack_config,
    run_program,
)

pytestmark = pytest.mark.unit

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
COMMAND = "command:local:Command"
EDGE = {
    "routes": {"app": {"host": "app.example.test", "service": "webapp", "port": 8080}},
    "certificates": {"mode": "dev"},
}


@cache
def dev_run(with_edge: bool = True) -> ProgramRun:
    config = load_stack_config("dev")
    if with_edge:
        config["edge"] = EDGE
    else:
        config.pop("edge", None)
    return run_program(config=config)


def containers(run: ProgramRun) -> dict[str, Registration]:
    return {r.name: r for r in run.of_type(CONTAINER)}


def labels(registration: Registration) -> dict[str, str]:
    return {item["label"]: item["value"] for item in registration.plain("labels") or []}


def test_the_dev_stack_declares_every_builtin_service_and_the_edge() -> None:
    assert set(containers(dev_run())) == set(BUILTIN_SERVICES) | {"edge"}


def test_every_resource_hangs_under_the_platform() -> None:
    run = dev_run()
    urns = run.by_urn()
    platform = run.by_name("platform")
    for registration in run.registrations:
        if registration is platform:
            continue
        node = registration
        while node.parent in urns:
            node = urns[node.parent]
        assert node is platform, f"{registration.type} {registration.name}"


@pytest.mark.parametrize("service", sorted(BUILTIN_SERVICES))
def test_service_containers_are_hardened(service: str) -> None:
    container = containers(dev_run())[service]
    assert container.plain("readOnly") is True
    assert container.plain("privileged") is False
    assert container.plain("capabilities") == {"drops": ["ALL"]}
    assert container.plain("securityOpts") == ["no-new-privileges:true"]
    assert container.plain("ipcMode") == "private"
    assert "networkMode" not in container.inputs and "pidMode" not in container.inputs
    assert "ports" not in container.inputs and "uploads" not in container.inputs
    assert container.plain("memory") == container.plain("memorySwap") > 0
    assert container.plain("logDriver") == "local"
    assert container.plain("logOpts") == {"max-size": "10m", "max-file": "3"}
    assert container.plain("restart") == "unless-stopped"
    assert labels(container)["encrypted-platform.role"] == "service"
    assert labels(container).get("encrypted-platform.egress") == (
        "true" if BUILTIN_SERVICES[service].get("egress") else None
    )
    assert container.plain("name") == f"encrypted-platform-{service}"
    for mount in container.plain("mounts"):
        assert mount["type"] in ("volume", "tmpfs")
        if mount["type"] == "volume":
            assert mount["source"].startswith("encrypted-platform-")


def test_service_volumes_are_the_encrypted_volumes_and_secret_files_bind_into_the_secrets_volume() -> None:
    run = dev_run()
    volumes = {r.plain("name"): r for r in run.of_type("docker:index/volume:Volume")}
    for service, container in containers(run).items():
        if service == "edge":
            continue
        for mount in container.plain("mounts"):
            if mount["type"] != "volume":
                continue
            volume = volumes[mount["source"]]
            device = volume.plain("driverOpts")["device"]
            assert device.startswith("/srv/encrypted/"), device
            if mount["target"] == "/run/secrets":
                assert mount["readOnly"] is True
                assert device == f"/srv/encrypted/config-secrets/binds/services/{service}"
            else:
                name = mount["source"].removeprefix("encrypted-platform-")
                assert device == f"/srv/encrypted/{name}/data"


def test_secrets_reach_the_host_only_on_stdin_and_never_a_container() -> None:
    run = dev_run()
    passwords = [
        r.outputs["result"]
        for r in run.of_type("random:index/randomPassword:RandomPassword")
        if r.name.startswith("secret-")
    ]
    assert passwords
    for registration in run.registrations:
        if registration.type == COMMAND:
            stdin = registration.inputs.get("stdin")
            if any(password in json.dumps(registration.plain("stdin")) for password in passwords):
                assert is_secret(stdin), registration.name
            plain = {k: v for k, v in registration.inputs.items() if k != "stdin"}
        else:
            plain = registration.inputs
        text = json.dumps(plain, default=str)
        for password in passwords:
            assert password not in text, f"{registration.type} {registration.name}"
    files = [r for r in run.of_type(COMMAND) if r.name.startswith(("app-db-file-", "webapp-file-"))]
    assert {r.name for r in files} == {
        "app-db-file-app-db-password-install",
        "webapp-file-app-db-password-install",
    }
    for command in files:
        assert command.plain("stdin") in passwords and is_secret(command.inputs["stdin"])


def test_every_service_gets_its_pid_limit_applied_after_creation() -> None:
    run = dev_run()
    for service in BUILTIN_SERVICES:
        command = run.by_name(f"{service}-pids-limit")
        assert command.plain("create") == (
            f"sudo -n docker -H unix:///var/run/docker.sock update --pids-limit 256 encrypted-platform-{service}"
        )
        container = [r for r in run.of_type(CONTAINER) if r.name == service][0]
        assert container.urn in command.dependencies


def test_the_firewall_comes_before_any_network() -> None:
    run = dev_run()
    firewall = run.by_name("firewall-rules")
    for network in run.of_type(NETWORK):
        assert firewall.urn in network.dependencies, network.name


def test_networks_carry_explicit_names_and_roles() -> None:
    run = dev_run()
    roles: dict[str, int] = {}
    for network in run.of_type(NETWORK):
        assert network.plain("name")
        role = labels(network)["encrypted-platform.network.role"]
        roles[role] = roles.get(role, 0) + 1
        assert network.plain("internal") is (role == "internal")
    assert roles["ingress"] == 1 and roles["egress"] == 1


def test_the_edge_is_the_only_publisher_and_joins_only_the_links_it_routes_to() -> None:
    run = dev_run()
    edge = containers(run)["edge"]
    assert labels(edge)["encrypted-platform.role"] == "edge"
    published = [name for name, c in containers(run).items() if c.inputs.get("ports")]
    assert published == ["edge"]
    assert edge.plain("networkMode") == "encrypted-platform-ingress"
    assert [n["name"] for n in edge.plain("networksAdvanced")] == ["ep-link--edge--webapp"]


def test_images_are_pinned_references() -> None:
    run = dev_run()
    images = {r.name: r.plain("name") for r in run.of_type("docker:index/remoteImage:RemoteImage")}
    for service, spec in BUILTIN_SERVICES.items():
        assert images[f"{service}-image"] == spec["image"]
        assert images[f"{service}-image"].rsplit(":", 1)[1] != "latest"


def test_without_routes_there_is_no_edge_and_no_ingress_network() -> None:
    run = dev_run(with_edge=False)
    assert "edge" not in containers(run)
    assert all(labels(n)["encrypted-platform.network.role"] != "ingress" for n in run.of_type(NETWORK))


def test_a_ca_bundle_becomes_a_secret_file_and_the_usual_variables(tmp_path: Any) -> None:
    config = load_stack_config("dev")
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    config["runtime"] = {"caBundle": pem}
    config["services"] = {"ingestion": {}}
    config.pop("edge", None)  # the dev routes point at webapp, which this config leaves out
    run = run_program(config=config)
    container = containers(run)["ingestion"]
    envs = set(container.plain("envs"))
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        assert f"{variable}=/run/secrets/ca-bundle.pem" in envs
    command = run.by_name("ingestion-file-ca-bundle.pem-install")
    assert is_secret(command.inputs["stdin"]) and command.plain("stdin") == pem


class DaemonWithoutSwapLimit(RealisticMocks):
    """The facts program's answer on a host whose kernel has no cgroup swap accounting."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        rid, outputs = super().new_resource(args)
        if args.name.endswith("-docker-facts"):
            outputs["stdout"] = "swap-limit=false\n"
        return rid, outputs


def test_containers_ask_for_the_swap_value_the_daemon_stores_where_it_cannot_limit_swap() -> None:
    config = load_stack_config("dev")
    config["edge"] = EDGE
    run = run_program(config=config, mocks=DaemonWithoutSwapLimit())
    every = run.of_type("docker:index/container:Container")
    assert len(every) == len(BUILTIN_SERVICES) + 1
    assert all(c.plain("memorySwap") == -1 and c.plain("memory") > 0 for c in every)
    (facts,) = [r for r in run.of_type("command:local:Command") if r.name.endswith("-docker-facts")]
    assert "docker --host" in facts.plain("create") and "SwapLimit" in facts.plain("create")


@pytest.mark.parametrize(
    ("stdout", "limited"),
    [("swap-limit=true\n", True), ("swap-limit=false\n", False), (None, True), ("", True)],
)
def test_the_swap_fact_reads_only_an_explicit_false_as_no_limit(stdout: str | None, limited: bool) -> None:
    assert swap_limit_from_facts(stdout) is limited
