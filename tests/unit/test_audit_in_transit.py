"""scripts/audit/in_transit.py: the edge's controls pass on what an edge configured as the stack
says shows, and each broken fact (an old protocol, a suite outside the profile, a chain that does
not verify, a missing name, a near expiry, no staple, no redirect, a wrong header) fails."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.audit import in_transit
from scripts.audit.model import Control
from tests.support import audit_facts as af

pytestmark = pytest.mark.unit
HOST = "app.example.test"


def controls(facts: dict[str, Any] | None, **overrides: Any) -> dict[str, Control]:
    return {c.id: c for c in in_transit.check(af.expected(), facts)}


def test_an_edge_as_configured_passes() -> None:
    found = controls(af.edge_facts(af.expected()))
    assert {i: c.status for i, c in found.items() if c.status != "pass"} == {}
    assert set(found) >= {
        "in-transit.tls-protocols", "in-transit.tls12-cipher-suites", f"in-transit.certificate-chain[{HOST}]",
        f"in-transit.certificate-names[{HOST}]", f"in-transit.certificate-expiry[{HOST}]",
        f"in-transit.ocsp-stapling[{HOST}]", f"in-transit.https-redirect[{HOST}]", "in-transit.security-headers[webapp]",
    }  # fmt: skip


def test_tls_1_1_offered_fails() -> None:
    facts = af.edge_facts(af.expected())
    facts["protocols"]["1.1"] = True
    control = controls(facts)["in-transit.tls-protocols"]
    assert control.status == "fail" and "1.1" in control.summary


def test_tls_1_3_missing_fails_and_an_untestable_old_version_warns() -> None:
    facts = af.edge_facts(af.expected())
    facts["protocols"]["1.3"] = False
    assert controls(facts)["in-transit.tls-protocols"].status == "fail"
    facts = af.edge_facts(af.expected())
    facts["protocols"]["1.0"] = None
    control = controls(facts)["in-transit.tls-protocols"]
    assert control.status == "warn" and "cannot offer TLS 1.0" in control.summary


def test_a_cbc_suite_fails_the_profile() -> None:
    facts = af.edge_facts(af.expected())
    facts["tls12Suites"].append("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
    control = controls(facts)["in-transit.tls12-cipher-suites"]
    assert control.status == "fail" and "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" in control.summary


def test_a_chain_that_does_not_verify_and_a_name_not_covered_fail() -> None:
    facts = af.edge_facts(af.expected())
    facts["certificates"][HOST].update(
        verified=False, error="unable to get local issuer certificate", sans=["other.example.test"]
    )
    found = controls(facts)
    assert found[f"in-transit.certificate-chain[{HOST}]"].status == "fail"
    assert "local issuer" in found[f"in-transit.certificate-chain[{HOST}]"].summary
    assert found[f"in-transit.certificate-names[{HOST}]"].status == "fail"


def test_a_wildcard_covers_one_label() -> None:
    facts = af.edge_facts(af.expected())
    facts["certificates"][HOST]["sans"] = ["*.example.test"]
    assert controls(facts)[f"in-transit.certificate-names[{HOST}]"].status == "pass"
    facts["certificates"][HOST]["sans"] = ["*.test"]
    assert controls(facts)[f"in-transit.certificate-names[{HOST}]"].status == "fail"


@pytest.mark.parametrize(("days", "status"), [(5.0, "fail"), (20.0, "warn"), (31.0, "pass")])
def test_days_to_expiry_against_the_thresholds(days: float, status: str) -> None:
    facts = af.edge_facts(af.expected(), days_left=days)
    assert controls(facts)[f"in-transit.certificate-expiry[{HOST}]"].status == status


def test_no_staple_for_a_certificate_naming_a_responder_fails() -> None:
    facts = af.edge_facts(af.expected())
    facts["certificates"][HOST]["ocspStapled"] = False
    assert controls(facts)[f"in-transit.ocsp-stapling[{HOST}]"].status == "fail"
    facts["certificates"][HOST]["ocspUrls"] = []
    assert controls(facts)[f"in-transit.ocsp-stapling[{HOST}]"].status == "skip"


def test_plain_http_served_instead_of_a_redirect_fails() -> None:
    facts = af.edge_facts(af.expected())
    facts["redirects"][HOST] = {"status": 200, "location": None, "error": None}
    assert controls(facts)[f"in-transit.https-redirect[{HOST}]"].status == "fail"
    facts["redirects"][HOST] = {"status": 302, "location": f"https://{HOST}/", "error": None}
    assert controls(facts)[f"in-transit.https-redirect[{HOST}]"].status == "fail"


def test_a_missing_or_weakened_header_and_a_banner_fail() -> None:
    facts = af.edge_facts(af.expected())
    headers = facts["responses"]["webapp"]["headers"]
    headers["strict-transport-security"] = ["max-age=60"]
    del headers["referrer-policy"]
    headers["server"] = ["nginx/1.0"]
    control = controls(facts)["in-transit.security-headers[webapp]"]
    assert control.status == "fail"
    assert (
        "max-age=60" in control.summary
        and "Referrer-Policy: missing" in control.summary
        and "Server present" in control.summary
    )


def test_an_unreachable_edge_fails_and_no_scan_skips() -> None:
    assert controls({"reachable": False, "error": "refused"})["in-transit.edge"].status == "fail"
    assert controls(None)["in-transit.edge"].status == "skip"


@pytest.mark.parametrize("probe", ["foreignOrigin", "noSession"])
def test_a_websocket_upgrade_switched_without_origin_or_session_fails(probe: str) -> None:
    facts = af.edge_facts(af.expected())
    facts["upgrades"]["events"][probe]["status"] = 101
    control = controls(facts)["in-transit.websocket[events]"]
    assert control.status == "fail" and "upgraded a WebSocket" in control.summary


def test_a_websocket_route_not_probed_is_skipped_and_no_answer_fails() -> None:
    facts = af.edge_facts(af.expected())
    facts["upgrades"] = {}
    assert controls(facts)["in-transit.websocket[events]"].status == "skip"
    facts = af.edge_facts(af.expected())
    facts["upgrades"]["events"]["noSession"] = {"origin": "x", "status": None, "error": "timed out"}
    assert controls(facts)["in-transit.websocket[events]"].status == "fail"
