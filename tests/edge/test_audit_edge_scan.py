"""The audit's edge scan (scripts/audit/edge_scan.py) against real Traefik on 127.0.0.1 running the
configuration the edge component renders, judged by scripts/audit/in_transit.py: the default
edge passes every control; a TLS 1.3-only edge fails the stack's TLS 1.2 promise, an untrusted
chain fails, a certificate 5 days from expiry fails."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from scripts.audit import in_transit
from scripts.audit.edge_scan import EdgeTarget, scan_edge
from scripts.audit.expected import expected_edge
from scripts.audit.model import Control, ExpectedEdge
from tests.edge.conftest import HOST, Backends, custom_edge_settings, start_custom_edge
from tests.support import audit_facts as af
from tests.support.edgelab.pki import TestPki, make_pki
from tests.support.edgelab.traefik import TraefikInstance
from tests.support.net import LOOPBACK


def scanned(instance: TraefikInstance, edge: ExpectedEdge, ca_file: Path | None) -> dict[str, Control]:
    target = EdgeTarget(
        LOOPBACK,
        instance.websecure_port,
        instance.web_port,
        ca_file=None if ca_file is None else str(ca_file),
    )
    want = dataclasses.replace(af.expected(), edge=edge)
    return {c.id: c for c in in_transit.check(want, scan_edge(target, edge))}


def edge_of(instance: TraefikInstance) -> ExpectedEdge:
    edge = expected_edge(instance.settings)
    assert edge is not None
    return edge


def test_the_default_edge_passes_every_control(custom_edge: TraefikInstance, pki: TestPki) -> None:
    found = scanned(custom_edge, edge_of(custom_edge), pki.root_file)
    problems = {i: (c.status, c.summary) for i, c in found.items() if c.status not in ("pass", "skip")}
    # This machine's OpenSSL may be unable to offer TLS 1.0/1.1 at all: then the control says so.
    assert problems in (
        {},
        {"in-transit.tls-protocols": problems.get("in-transit.tls-protocols", ("", ""))},
    ), problems
    if problems:
        assert problems["in-transit.tls-protocols"][0] == "warn"
    assert found["in-transit.tls12-cipher-suites"].details["accepted"]
    assert set(found["in-transit.tls12-cipher-suites"].details["accepted"]) <= set(
        edge_of(custom_edge).tls12_cipher_suites
    )
    assert found[f"in-transit.https-redirect[{HOST}]"].status == "pass"
    assert found["in-transit.security-headers[app]"].status == "pass"
    websocket = found["in-transit.websocket[events]"]
    assert websocket.status == "pass", websocket
    assert (
        websocket.details["foreignOrigin"]["status"] != 101
        and websocket.details["noSession"]["status"] == 401
    )
    assert found[f"in-transit.certificate-chain[{HOST}]"].status == "pass"


def test_a_tls_1_3_only_edge_fails_an_intermediate_stack(
    modern_edge: TraefikInstance, custom_edge: TraefikInstance, pki: TestPki
) -> None:
    found = scanned(modern_edge, edge_of(custom_edge), pki.root_file)
    control = found["in-transit.tls-protocols"]
    assert control.status == "fail" and "does not offer TLS 1.2" in control.summary


def test_an_untrusted_chain_fails(custom_edge: TraefikInstance) -> None:
    found = scanned(custom_edge, edge_of(custom_edge), None)
    assert found[f"in-transit.certificate-chain[{HOST}]"].status == "fail"
    assert found[f"in-transit.certificate-names[{HOST}]"].status == "pass"


@pytest.fixture(scope="module")
def expiring_edge(
    backends: Backends, tmp_path_factory: pytest.TempPathFactory
) -> tuple[TraefikInstance, TestPki]:
    short = make_pki(tmp_path_factory.mktemp("pki-expiring"), [HOST], days=5)
    instance = start_custom_edge(
        tmp_path_factory.mktemp("edge-expiring"), custom_edge_settings(backends, short), short
    )
    yield instance, short  # type: ignore[misc]
    instance.stop()


def test_a_certificate_5_days_from_expiry_fails(expiring_edge: tuple[TraefikInstance, TestPki]) -> None:
    instance, short = expiring_edge
    control = scanned(instance, edge_of(instance), short.root_file)[f"in-transit.certificate-expiry[{HOST}]"]
    assert control.status == "fail" and "renewal failed" in control.summary
