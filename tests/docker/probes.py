"""Probes run inside the deployed containers (stand-in images carry Debian's python3)."""

from __future__ import annotations

from tests.support.dockerlab import DockerLab
from tests.support.images import PROBE

TIMEOUT = 1.5  # seconds per TCP attempt; "unreachable" answers at once, a drop takes this long


def tcp(lab: DockerLab, container: str, host: str, port: int) -> str:
    code, out = lab.exec(container, [*PROBE, "tcp", host, str(port), str(TIMEOUT)])
    assert code == 0, out
    return out.strip()


def tcp_many(lab: DockerLab, container: str, targets: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    if not targets:
        return {}
    code, out = lab.exec(container, [*PROBE, "tcp-many", str(TIMEOUT), *(f"{h}:{p}" for h, p in targets)])
    assert code == 0, out
    results = {}
    for line in out.splitlines():
        target, result = line.rsplit(" ", 1)
        host, _, port = target.rpartition(":")
        results[(host, int(port))] = result
    assert set(results) == set(targets), out
    return results


def resolve_many(lab: DockerLab, container: str, names: list[str]) -> dict[str, str]:
    """Addresses Docker's embedded DNS gives each name, or 'nxdomain'. Names Docker does not know
    are forwarded to the lab's upstream (its outside peer, where nothing answers): the client gives
    up after one second (RES_OPTIONS)."""
    result = lab.client.containers.get(container).exec_run(
        [*PROBE, "resolve-many", *names], environment={"RES_OPTIONS": "timeout:1 attempts:1"}
    )
    out = (result.output or b"").decode()
    assert result.exit_code == 0, out
    answers = dict(line.split(" ", 1) for line in out.splitlines())
    assert set(answers) == set(names), out
    return answers


def http(lab: DockerLab, container: str, url: str) -> str:
    code, out = lab.exec(container, [*PROBE, "http", url])
    assert code == 0, out
    return out.strip()
