"""Isolation: which networks each of the stack's containers is on and what it publishes on the
host, against the stack's network plan (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Control, Expected, ExpectedContainer, Status


def _control(id_: str, promise: str, status: Status, summary: str, /, **details: Any) -> Control:
    return Control(id_, "isolation", promise, status, summary, details)


def container_name(inspected: Mapping[str, Any]) -> str:
    return str(inspected.get("Name") or "").lstrip("/")


def published_ports(inspected: Mapping[str, Any]) -> list[int]:
    """Host ports a container publishes (its configuration, whether it runs or not)."""
    ports: set[int] = set()
    bindings = (inspected.get("HostConfig") or {}).get("PortBindings") or {}
    runtime = (inspected.get("NetworkSettings") or {}).get("Ports") or {}
    for table in (bindings, runtime):
        for entries in table.values():
            for entry in entries or []:
                if str(entry.get("HostPort") or "").isdigit():
                    ports.add(int(entry["HostPort"]))
    if (inspected.get("HostConfig") or {}).get("NetworkMode") == "host":
        ports.add(-1)  # every port it listens on: host networking publishes everything
    return sorted(ports)


def networks_of(inspected: Mapping[str, Any]) -> list[str]:
    return sorted(((inspected.get("NetworkSettings") or {}).get("Networks") or {}).keys())


def _internal_networks(expected: Expected, networks: list[Mapping[str, Any]]) -> Control:
    """The plan's internal networks have no route out (Docker's `internal`)."""
    by_name = {str(n.get("Name")): n for n in networks}
    missing = [name for name in expected.internal_networks if name not in by_name]
    routed = [
        name for name in expected.internal_networks if name in by_name and not by_name[name].get("Internal")
    ]
    details = {"internal": list(expected.internal_networks), "missing": missing, "notInternal": routed}
    if routed:
        return _control(
            "isolation.internal-networks",
            "network-isolation",
            "fail",
            f"networks of the plan's internal links with a route out: {', '.join(routed)}",
            **details,
        )
    if missing:
        return _control(
            "isolation.internal-networks",
            "network-isolation",
            "fail",
            f"networks missing: {', '.join(missing)}",
            **details,
        )
    return _control(
        "isolation.internal-networks",
        "network-isolation",
        "pass",
        f"{len(expected.internal_networks)} internal networks, none with a route out",
        **details,
    )


def may_reach_outside(expected: Expected, container: ExpectedContainer) -> bool:
    """Only a container on a network with a route out (the edge's ingress, the declared egress
    services' egress network) may reach beyond the host."""
    return any(network not in expected.internal_networks for network in container.networks)


def _reachability(
    expected: Expected, reachability: Any, inspected: Mapping[str, Mapping[str, Any]]
) -> list[Control]:
    """From inside each of the stack's running containers: the host's sshd and Docker API ports
    must not open, and the outside must not answer unless the container may reach it."""
    if reachability is None:
        return [
            _control(
                "isolation.reachability",
                "firewall-boundaries",
                "skip",
                "no probes: Docker or nsenter is missing on the host",
            )
        ]
    probed = {str(entry.get("container")): entry.get("probes") or [] for entry in reachability}
    controls = []
    for want in expected.containers:
        id_ = f"isolation.reachability[{want.name}]"
        state = ((inspected.get(want.name) or {}).get("State") or {}).get("Status")
        if want.name not in probed:
            controls.append(
                _control(id_, "firewall-boundaries", "skip", f"not probed: the container is {state}")
            )
            continue
        probes = probed[want.name]
        outside_allowed = may_reach_outside(expected, want)
        host_open = [
            f"{p['address']}:{p['port']}"
            for p in probes
            if p.get("target") == "host" and p.get("result") == "open"
        ]
        outside = [
            f"{p['address']}:{p['port']} {p['result']}"
            for p in probes
            if p.get("target") == "outside" and p.get("result") in ("open", "refused")
        ]
        details = {"probes": probes, "outsideAllowed": outside_allowed}
        problems = []
        if host_open:
            problems.append(f"reaches the host's sshd or Docker API at {', '.join(host_open)}")
        if outside and not outside_allowed:
            problems.append(f"reaches the outside ({', '.join(outside)}) without declared egress")
        if problems:
            controls.append(_control(id_, "firewall-boundaries", "fail", "; ".join(problems), **details))
            continue
        host_probes = sum(1 for p in probes if p.get("target") == "host")
        reach = "may reach the outside (declared)" if outside_allowed else "does not reach the outside"
        controls.append(
            _control(
                id_,
                "firewall-boundaries",
                "pass",
                f"{host_probes} probes of the host's sshd and Docker API ports stay shut; {reach}",
                **details,
            )
        )
    return controls


def check(expected: Expected, facts: Mapping[str, Any]) -> list[Control]:
    containers = facts.get("containers")
    if containers is None:
        return [
            _control("isolation.containers", "network-isolation", "skip", "Docker did not answer on the host")
        ]
    by_name = {container_name(c): c for c in containers}
    controls: list[Control] = []
    for want in expected.containers:
        found = by_name.get(want.name)
        if found is None:
            controls.append(
                _control(
                    f"isolation.networks[{want.name}]",
                    "network-isolation",
                    "fail",
                    f"no container {want.name} on the host",
                )
            )
            continue
        networks = networks_of(found)
        details = {
            "networks": networks,
            "expected": list(want.networks),
            "state": (found.get("State") or {}).get("Status"),
        }
        if networks != list(want.networks):
            extra = sorted(set(networks) - set(want.networks))
            missing = sorted(set(want.networks) - set(networks))
            controls.append(
                _control(
                    f"isolation.networks[{want.name}]",
                    "network-isolation",
                    "fail",
                    f"on networks the plan does not give it: {', '.join(extra) or 'none'}; missing: {', '.join(missing) or 'none'}",
                    **details,
                )
            )
        else:
            controls.append(
                _control(
                    f"isolation.networks[{want.name}]",
                    "network-isolation",
                    "pass",
                    f"on exactly its {len(networks)} planned networks",
                    **details,
                )
            )
        ports = published_ports(found)
        extra_ports = sorted(set(ports) - set(want.published_ports))
        port_details = {"published": ports, "expected": list(want.published_ports)}
        if extra_ports:
            what = ", ".join("all (host network)" if p == -1 else str(p) for p in extra_ports)
            controls.append(
                _control(
                    f"isolation.published-ports[{want.name}]",
                    "firewall-boundaries",
                    "fail",
                    f"publishes host ports the stack does not: {what}",
                    **port_details,
                )
            )
        else:
            summary = f"publishes {', '.join(map(str, ports))}" if ports else "publishes no host port"
            controls.append(
                _control(
                    f"isolation.published-ports[{want.name}]",
                    "firewall-boundaries",
                    "pass",
                    summary,
                    **port_details,
                )
            )
    controls.append(_internal_networks(expected, facts.get("networks") or []))
    controls.extend(_reachability(expected, facts.get("reachability"), by_name))
    return controls
