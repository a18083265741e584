"""scripts/audit/isolation.py and drift.py: containers on their planned networks publishing only
what the stack publishes pass; a container on a foreign network, an extra published port, and
containers, volumes and networks beside the stack are named."""

from __future__ import annotations

import pytest

from scripts.audit import drift, isolation
from tests.support import audit_facts as af

pytestmark = pytest.mark.unit
WEBAPP = "encrypted-platform-webapp"
EDGE = "encrypted-platform-edge"


def test_the_stack_as_planned_passes() -> None:
    want = af.expected()
    found = {
        c.id: c for c in isolation.check(want, af.host_facts(want)) + drift.check(want, af.host_facts(want))
    }
    assert {i: c.status for i, c in found.items() if c.status != "pass"} == {}
    assert f"isolation.networks[{WEBAPP}]" in found and "drift.containers" in found
    assert f"isolation.reachability[{WEBAPP}]" in found and f"isolation.reachability[{EDGE}]" in found


def test_a_container_reaching_the_hosts_sshd_or_docker_api_fails() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["reachability"][1]["probes"][1]["result"] = "open"  # 172.18.0.1:2375
    control = {c.id: c for c in isolation.check(want, facts)}[f"isolation.reachability[{WEBAPP}]"]
    assert control.status == "fail" and "172.18.0.1:2375" in control.summary


@pytest.mark.parametrize("answer", ["open", "refused"])
def test_only_a_container_with_a_route_out_may_reach_the_outside(answer: str) -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["reachability"] = [af.probes(EDGE, outside=answer), af.probes(WEBAPP, outside=answer)]
    found = {c.id: c for c in isolation.check(want, facts)}
    assert found[f"isolation.reachability[{EDGE}]"].status == "pass"  # the ingress network routes out
    webapp = found[f"isolation.reachability[{WEBAPP}]"]
    assert webapp.status == "fail" and "without declared egress" in webapp.summary


def test_a_stopped_container_is_not_probed_and_no_probes_at_all_is_a_skip() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["containers"][1]["State"]["Status"] = "exited"
    del facts["reachability"][1]
    control = {c.id: c for c in isolation.check(want, facts)}[f"isolation.reachability[{WEBAPP}]"]
    assert control.status == "skip" and "exited" in control.summary
    facts["reachability"] = None
    assert {c.id: c.status for c in isolation.check(want, facts)}["isolation.reachability"] == "skip"


def test_a_container_on_a_network_the_plan_does_not_give_it_fails() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["containers"][1]["NetworkSettings"]["Networks"]["encrypted-platform-egress"] = {}
    control = {c.id: c for c in isolation.check(want, facts)}[f"isolation.networks[{WEBAPP}]"]
    assert control.status == "fail" and "encrypted-platform-egress" in control.summary


def test_a_backend_publishing_a_port_fails_and_host_networking_counts_as_all() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["containers"][1] = af.container(WEBAPP, ("ep-link--edge--webapp",), (5432,))
    control = {c.id: c for c in isolation.check(want, facts)}[f"isolation.published-ports[{WEBAPP}]"]
    assert control.status == "fail" and "5432" in control.summary
    facts["containers"][1] = af.container(WEBAPP, ("host",))
    control = {c.id: c for c in isolation.check(want, facts)}[f"isolation.published-ports[{WEBAPP}]"]
    assert control.status == "fail" and "host network" in control.summary


def test_a_declared_container_missing_fails() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    del facts["containers"][1]
    assert {c.id: c for c in isolation.check(want, facts)}[f"isolation.networks[{WEBAPP}]"].status == "fail"


def test_an_extra_container_publishing_a_port_is_drift_twice() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["containers"].append(af.container("intruder", ("bridge",), (8080,)))
    found = {c.id: c for c in drift.check(want, facts)}
    assert found["drift.containers"].status == "fail" and "intruder" in found["drift.containers"].summary
    assert (
        found["drift.published-ports"].status == "fail"
        and "intruder: 8080" in found["drift.published-ports"].summary
    )


def test_an_undeclared_volume_fails_a_directory_volume_of_the_program_passes() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    volume = want.volumes[0]
    files = {
        "Name": "encrypted-platform-webapp-files",
        "Labels": {drift.MAPPING_LABEL: volume.mapper},
        "Options": {"type": "none", "o": "bind", "device": f"{volume.mount_point}/binds/webapp"},
    }
    facts["dockerVolumes"].append(files)
    assert {c.id: c.status for c in drift.check(want, facts)}["drift.volumes"] == "pass"
    # The label alone does not make a volume the program's: its source must be on that volume.
    files["Options"] = {"type": "none", "o": "bind", "device": "/var/lib/elsewhere"}
    assert {c.id: c.status for c in drift.check(want, facts)}["drift.volumes"] == "fail"
    files["Options"] = {"type": "none", "o": "bind", "device": f"{volume.mount_point}/binds/webapp"}
    facts["dockerVolumes"].append({"Name": "scratch", "Labels": None})
    control = {c.id: c for c in drift.check(want, facts)}["drift.volumes"]
    assert control.status == "fail" and "scratch" in control.summary


def test_an_undeclared_network_warns() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["networks"].append({"Name": "side-net"})
    control = {c.id: c for c in drift.check(want, facts)}["drift.networks"]
    assert control.status == "warn" and "side-net" in control.summary


def test_without_docker_both_skip() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["containers"] = facts["networks"] = facts["dockerVolumes"] = None
    assert [c.status for c in isolation.check(want, facts) + drift.check(want, facts)] == ["skip", "skip"]


def test_an_internal_link_network_with_a_route_out_or_missing_fails() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    link = next(n for n in facts["networks"] if n["Name"] == "ep-link--edge--webapp")
    link["Internal"] = False
    control = {c.id: c for c in isolation.check(want, facts)}["isolation.internal-networks"]
    assert control.status == "fail" and "ep-link--edge--webapp" in control.summary
    facts["networks"].remove(link)
    assert {c.id: c for c in isolation.check(want, facts)}["isolation.internal-networks"].status == "fail"
