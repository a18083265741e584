"""Swarm mode on a single-node swarm of the lab's engine: the program's Swarm services, encrypted
overlays, Swarm secrets, placement, and the edge container joining an attachable overlay.

What one node cannot show: IPsec itself. Encrypted overlays negotiate ESP security associations
only between nodes; with one node there is no peer, so no SA exists (`ip xfrm state` stays empty)
and no packet is encrypted. What is checked instead is what the engine does on every node of an
encrypted overlay: it installs the rule that drops unencrypted VXLAN for that network's VNI (the
rule engines before 20.10.24 failed to apply, CVE-2023-28840). This kernel also has no IPVS
(ip_vs), so Swarm's virtual IPs cannot work here; the program uses DNS round robin.
"""

from __future__ import annotations

import copy
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.settings import parse_settings
from components.settings.services import BUILTIN_SERVICES
from components.swarm import preflight_program
from tests.support.acting_mocks.engine import ActingMocks
from tests.support.acting_mocks.executor import Context
from tests.support.acting_mocks.monitor import deploy
from tests.support.dockerlab import DockerLab
from tests.support.images import PROBE

from . import probes
from .conftest import Deployment, edge_settings, import_standins, stack_config, stop_deployment, wait_healthy
from .test_edge import https_request

pytestmark = pytest.mark.docker

SERVICES = sorted(BUILTIN_SERVICES)
STATEFUL = sorted(name for name, spec in BUILTIN_SERVICES.items() if spec.get("volumes"))
EGRESS = sorted(name for name, spec in BUILTIN_SERVICES.items() if spec.get("egress"))
TASKS_TIMEOUT = 150.0


def standin_healthcheck(port: int) -> dict[str, Any]:
    # The stand-ins have no pg_isready or bash; Swarm replaces tasks that never become healthy.
    return {"test": ["CMD", *PROBE, "tcp", "127.0.0.1", str(port)], "interval": 5, "startPeriod": 5}


def swarm_config(lab: DockerLab) -> dict[str, Any]:
    config = stack_config(lab, edge=edge_settings(lab))
    config["services"]["app-db"] = {"healthcheck": standin_healthcheck(5432)}
    config["services"]["vector-store"] = {"healthcheck": standin_healthcheck(6333)}
    config["swarm"] = {
        "enabled": True,
        "manager": "lab-node",
        "nodes": {
            "lab-node": {
                "role": "manager",
                "engineVersion": lab.client.version()["Version"],
                "hostname": lab.client.info()["Name"],
                "host": {"mode": "local", "dockerSocket": str(lab.socket)},
                "daemonConfig": str(lab.daemon_config_path),
            }
        },
    }
    return config


def wait_for_tasks(lab: DockerLab) -> None:
    deadline = time.monotonic() + TASKS_TIMEOUT
    while True:
        states = {
            s.name: [t["Status"]["State"] for t in s.tasks(filters={"desired-state": "running"})]
            for s in lab.client.services.list()
        }
        if len(states) == len(SERVICES) and all(
            v and all(x == "running" for x in v) for v in states.values()
        ):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"swarm tasks not running after {TASKS_TIMEOUT}s: {states}")
        time.sleep(1)


@pytest.fixture(scope="module")
def swarm_platform(rootfs: dict[str, Path]) -> Iterator[Deployment]:
    # The daemon default the program's preflight requires (Swarm services cannot set it).
    lab = DockerLab.start(daemon_config={"no-new-privileges": True})
    try:
        image_map = import_standins(lab, rootfs)
        lab.client.swarm.init(
            advertise_addr=lab.uplink_address,
            listen_addr=f"{lab.uplink_address}:2377",
            default_addr_pool=["10.214.0.0/16"],
            subnet_size=24,
        )
        mocks = ActingMocks(Context(image_map=image_map, command_prefix=lab.host_command_prefix()))
        config = swarm_config(lab)
        run, report = deploy(mocks, config=config)
        deployment = Deployment(lab=lab, mocks=mocks, config=config, run=run, report=report)
    except BaseException:
        lab.stop()
        raise
    try:
        wait_for_tasks(lab)
        wait_healthy(lab, "encrypted-platform-edge")
        yield deployment
    finally:
        stop_deployment(deployment)


def task_container(deployment: Deployment, service: str) -> Any:
    containers = deployment.lab.client.containers.list(
        filters={"label": f"com.docker.swarm.service.name=encrypted-platform-{service}"}
    )
    assert len(containers) == 1, (service, [c.name for c in containers])
    return containers[0]


def test_the_preflight_checked_the_node_before_anything_was_created(swarm_platform: Deployment) -> None:
    outputs = swarm_platform.outputs("command:local:Command", "preflight-lab-node")
    assert '"swarm":"active"' in outputs["stdout"]
    lab = swarm_platform.lab

    def run_preflight(**node_changes: Any) -> subprocess.CompletedProcess[str]:
        config = copy.deepcopy(swarm_platform.config)
        config["swarm"]["nodes"]["lab-node"].update(node_changes)
        program = preflight_program(parse_settings(config), "lab-node")
        return subprocess.run(
            [*lab.host_command_prefix(), "bash", "-c", program, "ep-swarm-preflight"],
            capture_output=True,
            text=True,
            check=False,
        )

    assert run_preflight().returncode == 0
    without_nnp = lab.root / "daemon-without-nnp.json"
    without_nnp.write_text("{}")
    refused = run_preflight(daemonConfig=str(without_nnp))
    assert refused.returncode != 0 and "no-new-privileges" in refused.stderr
    refused = run_preflight(hostname="another-node")
    assert refused.returncode != 0 and "hostname" in refused.stderr


def test_overlays_are_encrypted_internal_and_attachable_only_for_the_edge(swarm_platform: Deployment) -> None:
    lab = swarm_platform.lab
    rules = subprocess.run(
        ["ip", "netns", "exec", lab.netns, "iptables", "-S", "INPUT"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    overlays = 0
    for registration in swarm_platform.run.of_type("docker:index/network:Network"):
        network = lab.client.networks.get(registration.plain("name"))
        role = network.attrs["Labels"]["encrypted-platform.network.role"]
        if role == "ingress":
            assert network.attrs["Driver"] == "bridge" and network.attrs["Scope"] == "local"
            continue
        overlays += 1
        assert network.attrs["Driver"] == "overlay" and network.attrs["Scope"] == "swarm"
        assert "encrypted" in network.attrs["Options"], network.name
        assert network.attrs["Internal"] is (role == "internal")
        link = network.attrs["Labels"].get("encrypted-platform.network.link", "")
        assert network.attrs["Attachable"] is link.startswith("edge->"), network.name
        # The engine drops unencrypted VXLAN for this network's VNI (what CVE-2023-28840 broke).
        vni = int(network.attrs["Options"]["com.docker.network.driver.overlay.vxlanid_list"])
        drop = [
            line
            for line in rules.splitlines()
            if "--pol none" in line
            and "--dport 4789 -m u32" in line
            and line.endswith(f'=0x{vni << 8:x}" -j DROP')
        ]
        assert len(drop) == 1, (network.name, vni)
    assert overlays == len(swarm_platform.run.of_type("docker:index/network:Network")) - 1


def test_stateful_services_are_pinned_to_the_node_holding_their_volume(swarm_platform: Deployment) -> None:
    lab = swarm_platform.lab
    node_name = lab.client.info()["Name"]
    settings = parse_settings(swarm_platform.config)
    for service in SERVICES:
        spec = lab.client.services.get(f"encrypted-platform-{service}").attrs["Spec"]
        template = spec["TaskTemplate"]
        constraints = (template.get("Placement") or {}).get("Constraints") or []
        assert spec["EndpointSpec"]["Mode"] == "dnsrr" and not spec["EndpointSpec"].get("Ports")
        if service in STATEFUL:
            assert constraints == [f"node.hostname == {node_name}"], service
            for mount in template["ContainerSpec"]["Mounts"]:
                if mount["Type"] == "volume":
                    volume = mount["Source"].removeprefix("encrypted-platform-")
                    options = mount["VolumeOptions"]["DriverConfig"]["Options"]
                    assert options["device"] == f"{settings.encryption.root}/{volume}/data"
        else:
            assert constraints == [], service


def test_tasks_run_without_privileges_and_with_the_daemon_no_new_privileges(
    swarm_platform: Deployment,
) -> None:
    lab = swarm_platform.lab
    for service in SERVICES:
        container = task_container(swarm_platform, service)
        host = container.attrs["HostConfig"]
        assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"] and host["Privileged"] is False
        code, status = lab.exec(container.name, ["cat", "/proc/self/status"])
        assert code == 0
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        assert fields["NoNewPrivs"].strip() == "1", service
        assert int(fields["CapEff"].strip(), 16) == 0, service


def test_secrets_are_swarm_secrets_mounted_as_files(swarm_platform: Deployment) -> None:
    lab = swarm_platform.lab
    password = swarm_platform.outputs("random:index/randomPassword:RandomPassword", "secret-app-db-password")[
        "result"
    ]
    for service, uid in (("app-db", "70"), ("webapp", "1000")):
        container = task_container(swarm_platform, service)
        assert all(password not in env for env in container.attrs["Config"]["Env"] or [])
        code, out = lab.exec(container.name, ["cat", "/run/secrets/app-db-password"])
        assert code == 0 and out == password, service
        code, out = lab.exec(container.name, ["stat", "-c", "%u %a", "/run/secrets/app-db-password"])
        assert out.split() == [uid, "400"], out
    assert [s.name for s in lab.client.secrets.list()] == [
        swarm_platform.outputs("docker:index/secret:Secret", "swarm-secret-app-db-password")["name"]
    ]


def test_only_egress_services_reach_beyond_the_node_and_links_are_exact(swarm_platform: Deployment) -> None:
    lab = swarm_platform.lab
    with lab.listen_outside() as outside:
        results = {
            s: probes.tcp(lab, task_container(swarm_platform, s).name, outside.address, outside.port)
            for s in SERVICES
        }
        peers = outside.wait_for_peers(len(EGRESS))
    assert {s for s, r in results.items() if r == "open"} == set(EGRESS), results
    assert len(peers) == len(EGRESS)
    webapp = task_container(swarm_platform, "webapp").name
    app_db = task_container(swarm_platform, "app-db").name
    assert probes.tcp(lab, webapp, "app-db", 5432) == "open"
    answers = probes.resolve_many(lab, app_db, ["vector-store", "webapp", "llm-gateway"])
    assert answers == {"vector-store": "nxdomain", "webapp": "nxdomain", "llm-gateway": "nxdomain"}


def test_the_edge_container_reaches_the_swarm_web_app_over_its_encrypted_overlay(
    swarm_platform: Deployment,
) -> None:
    status, _, body = https_request(swarm_platform, "GET", "/")
    assert status == 200, body
    assert b'"service": "webapp"' in body
