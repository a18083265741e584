"""Network isolation of the deployed platform, checked from inside its containers.

The deployment is exactly what the program declares for the dev topology (every built-in service)
on a private Docker engine; see conftest.py. All traffic stays inside the lab's network namespaces:
the containers' own networks, the lab host, and the lab's "outside" peer (its default gateway).
"""

from __future__ import annotations

import pytest

from components.isolation.network import LINK_PREFIX, link_network_name, plan_networks
from components.settings import parse_settings
from components.settings.services import BUILTIN_SERVICES

from . import probes
from .conftest import Deployment

pytestmark = pytest.mark.docker

SERVICES = sorted(BUILTIN_SERVICES)
EGRESS = sorted(name for name, spec in BUILTIN_SERVICES.items() if spec.get("egress"))
NETWORK = "docker:index/network:Network"


def container_name(service: str) -> str:
    return f"encrypted-platform-{service}"


def test_declared_networks_exist_with_their_role_and_internal_flag(platform: Deployment) -> None:
    declared = platform.run.of_type(NETWORK)
    assert declared, "the program declared no networks"
    for registration in declared:
        network = platform.lab.client.networks.get(registration.plain("name"))
        labels = network.attrs["Labels"]
        role = labels["encrypted-platform.network.role"]
        assert network.attrs["Internal"] is (role == "internal"), network.name
        assert role in ("internal", "egress"), f"{network.name}: no edge routes, so no ingress network"
        members = {c["Name"] for c in network.attrs["Containers"].values()}
        if role == "internal":
            caller, callee = labels["encrypted-platform.network.link"].split("->")
            assert members == {container_name(caller), container_name(callee)}
        else:
            assert members == {container_name(s) for s in EGRESS}
            assert network.attrs["Options"]["com.docker.network.bridge.enable_icc"] == "false"


def test_each_container_is_on_exactly_its_planned_networks(platform: Deployment) -> None:
    plan = plan_networks(parse_settings(platform.config))
    for service in SERVICES:
        planned = {attachment.name for attachment in plan.of(service)}
        assert set(platform.addresses(service)) == planned, service


def test_only_declared_egress_services_reach_beyond_the_host(platform: Deployment) -> None:
    lab = platform.lab
    with lab.listen_outside() as outside:
        results = {s: probes.tcp(lab, container_name(s), outside.address, outside.port) for s in SERVICES}
        peers = outside.wait_for_peers(len(EGRESS))
    for service in SERVICES:
        if service in EGRESS:
            assert results[service] == "open", service
        else:
            # Docker 20.10 still gives containers on internal networks a default route via the
            # bridge; its DOCKER-ISOLATION-STAGE-1 rules drop whatever leaves the bridge (timeout).
            assert results[service] in ("timeout", "unreachable"), (service, results[service])
    # Exactly the egress services arrived, masqueraded behind the Docker host's uplink address.
    assert peers == [lab.uplink_address] * len(EGRESS)
    labels = {s: platform.container(s).labels.get("encrypted-platform.egress") for s in SERVICES}
    assert {s for s, v in labels.items() if v == "true"} == set(EGRESS)


def test_a_service_reaches_exactly_the_services_it_connects_to(platform: Deployment) -> None:
    settings = parse_settings(platform.config)
    lab = platform.lab
    addresses = {s: platform.addresses(s) for s in SERVICES}
    checked_open = checked_closed = 0
    for source in SERVICES:
        connects = set(settings.services[source].connects)
        source_networks = set(addresses[source])
        targets = [
            (ip, settings.services[target].port)
            for target in SERVICES
            if target != source
            for ip in addresses[target].values()
        ]
        results = probes.tcp_many(lab, container_name(source), targets)
        for target in SERVICES:
            if target == source:
                continue
            port = settings.services[target].port
            for network, ip in addresses[target].items():
                result = results[(ip, port)]
                # Open only on a link network the two share. Docker networks do not filter by
                # direction: on its link, a callee also reaches its caller (documented).
                linked = target in connects or source in settings.services[target].connects
                should_open = linked and network in source_networks and network.startswith(LINK_PREFIX)
                if should_open:
                    assert result == "open", (source, target, network)
                    checked_open += 1
                else:
                    assert result != "open", (source, target, network, result)
                    checked_closed += 1
        others = [t for t in SERVICES if t != source]
        answers = probes.resolve_many(lab, container_name(source), others)
        for target in others:
            if target in connects:
                # The callee's name answers on its link network only (not e.g. on egress).
                link = link_network_name(source, target)
                assert answers[target] == addresses[target][link], (source, target)
            else:
                assert answers[target] == "nxdomain", (source, target, answers[target])
    # Every link is open in both directions, nothing else is.
    assert checked_open == 2 * sum(len(settings.services[s].connects) for s in SERVICES)
    assert checked_closed > checked_open


def test_no_service_publishes_a_port(platform: Deployment) -> None:
    lab = platform.lab
    for service in SERVICES:
        container = platform.container(service)
        assert not container.attrs["HostConfig"].get("PortBindings"), service
        assert all(not bindings for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values())
        port = BUILTIN_SERVICES[service]["port"]
        for address in ("127.0.0.1", lab.uplink_address):
            assert not lab.port_open(address, port, timeout=1.0), (service, address, port)


def test_the_host_firewall_keeps_containers_off_the_host_itself(platform: Deployment) -> None:
    """Docker leaves the host's INPUT chain open to its bridges (a container reaches e.g. the host's
    sshd through its gateway address); the HostFirewall the program declares closes it."""
    lab = platform.lab

    def gateway_results(listener_port: int) -> dict[str, str]:
        results = {}
        for service in SERVICES:
            for network in platform.addresses(service):
                gateway = lab.client.networks.get(network).attrs["IPAM"]["Config"][0]["Gateway"]
                results[f"{service}@{network}"] = probes.tcp(
                    lab, container_name(service), gateway, listener_port
                )
        return results

    with lab.listen("0.0.0.0") as host_service:  # noqa: S104 - the lab host's own namespace
        with_firewall = gateway_results(host_service.port)
        assert host_service.wait_for_peers(0, timeout=0.5) == []
        assert all(result != "open" for result in with_firewall.values()), with_firewall

        # Positive control: without the firewall the same probes reach the host.
        config = dict(platform.config, firewall={"enabled": False})
        report = platform.redeploy(config)
        assert any("HostFirewall$command:local:Command" in urn for urn in report.deleted)
        without_firewall = gateway_results(host_service.port)
        assert all(result == "open" for result in without_firewall.values()), without_firewall

        config = dict(platform.config)
        config.pop("firewall")
        platform.redeploy(config)
        assert all(result != "open" for result in gateway_results(host_service.port).values())
