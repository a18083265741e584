"""The audit's facts program against a real Docker engine (a private dockerd, tests/support/
dockerlab.py): the stack's containers, created on their planned networks, pass isolation and
drift; a container started beside them publishing a port, an undeclared volume and network, and
a backend on a network the plan does not give it are named. Containers are created, never
started: networks, published ports and labels are the engine's record either way."""

from __future__ import annotations

import dataclasses
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.audit import argv_runner, run_audit
from scripts.audit.model import Expected, ExpectedContainer
from tests.support import audit_facts as af
from tests.support.dockerlab import DockerLab

IMAGE = "ep-audit-empty:test"
EDGE = "encrypted-platform-edge"
WEBAPP = "encrypted-platform-webapp"
INGRESS, LINK = "encrypted-platform-ingress", "ep-link--edge--webapp"


def empty_rootfs(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("etc/hostname")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"audit\n"))
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerLab]:
    started = DockerLab.start()
    try:
        started.import_image(empty_rootfs(tmp_path_factory.mktemp("rootfs") / "empty.tar"), IMAGE)
        client = started.client
        client.networks.create(INGRESS, driver="bridge")
        client.networks.create(LINK, driver="bridge", internal=True)
        edge = client.containers.create(
            IMAGE, command=["/x"], name=EDGE, network=INGRESS, ports={"443/tcp": 18443, "80/tcp": 18080}
        )
        client.networks.get(LINK).connect(edge)
        client.containers.create(IMAGE, command=["/x"], name=WEBAPP, network=LINK)
        yield started
    finally:
        started.stop()


@pytest.fixture
def expected(lab: DockerLab, monkeypatch: pytest.MonkeyPatch) -> Expected:
    monkeypatch.setenv("DOCKER_HOST", lab.docker_host)
    return dataclasses.replace(
        af.expected(),
        containers=(
            ExpectedContainer(EDGE, (INGRESS, LINK), (18080, 18443)),
            ExpectedContainer(WEBAPP, (LINK,), ()),
        ),
        networks=(INGRESS, LINK),
        internal_networks=(LINK,),
        edge=None,
    )


def statuses(want: Expected) -> dict[str, tuple[str, str]]:
    return {c.id: (c.status, c.summary) for c in run_audit(want, argv_runner()).controls}


def test_the_stack_as_planned_passes_isolation_and_drift(expected: Expected) -> None:
    found = statuses(expected)
    wanted = [i for i in found if i.startswith(("isolation.networks", "isolation.published-ports", "drift."))]
    assert len(wanted) == 8
    assert found["isolation.internal-networks"][0] == "pass"
    assert {i: found[i] for i in wanted if found[i][0] != "pass"} == {}
    # The engine's root is on no encrypted device here: named as outside encryption.
    assert found["at-rest.docker-root"][0] == "warn"


def test_what_was_added_beside_the_stack_is_named(lab: DockerLab, expected: Expected) -> None:
    client = lab.client
    side = client.networks.create("side-net", driver="bridge")
    volume = client.volumes.create("scratch")
    intruder = client.containers.create(
        IMAGE, command=["/x"], name="intruder", network="bridge", ports={"8080/tcp": 18081}
    )
    side.connect(client.containers.get(WEBAPP))
    try:
        found = statuses(expected)
        assert found["drift.containers"][0] == "fail" and "intruder" in found["drift.containers"][1]
        assert (
            found["drift.published-ports"][0] == "fail"
            and "intruder: 18081" in found["drift.published-ports"][1]
        )
        assert found["drift.volumes"][0] == "fail" and "scratch" in found["drift.volumes"][1]
        assert found["drift.networks"][0] == "warn" and "side-net" in found["drift.networks"][1]
        assert (
            found[f"isolation.networks[{WEBAPP}]"][0] == "fail"
            and "side-net" in found[f"isolation.networks[{WEBAPP}]"][1]
        )
    finally:
        side.disconnect(client.containers.get(WEBAPP))
        intruder.remove(force=True)
        volume.remove(force=True)
        side.remove()
