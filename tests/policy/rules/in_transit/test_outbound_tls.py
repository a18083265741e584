"""Rule outbound-tls (policy/rules/in_transit/outbound_tls.py): its violating programs
(tests/support/programs/outbound_tls.py) are rejected; then the rule's own tests (from
tests/policy/test_rule_logic.py)."""

from __future__ import annotations

import pytest
from rules.in_transit.outbound_tls import disables_verification, normalize_name, url_problem

from tests.support.analyzer import PolicyPackProcess
from tests.support.programs import Program
from tests.support.programs import outbound_tls as programs
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "value", "disabled"),
    [
        ("NODE_TLS_REJECT_UNAUTHORIZED", "0", True),
        ("NODE_TLS_REJECT_UNAUTHORIZED", "1", False),
        ("PYTHONHTTPSVERIFY", "0", True),
        ("LITELLM_SSL_VERIFY", "False", True),
        ("SSL_VERIFY", "true", False),
        ("sslVerify", "false", True),
        ("verify_ssl", "no", True),
        ("CURL_CA_BUNDLE", "", True),
        ("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt", False),
        ("OIDC_INSECURE_SKIP_VERIFY", "true", True),
        ("GIT_SSL_NO_VERIFY", "1", True),
        ("DB_SSL_CERT_REQS", "CERT_NONE", True),
        ("TRAEFIK_SERVERSTRANSPORT_INSECURESKIPVERIFY", "true", False),  # rule tls-only-routes owns it
        ("OTEL_EXPORTER_OTLP_INSECURE", "true", True),
    ],
)
def test_verification_switches(name: str, value: str, disabled: bool) -> None:
    assert disables_verification(name, value) is disabled


@pytest.mark.unit
def test_name_normalisation() -> None:
    assert normalize_name("tlsInsecureSkipVerify") == "TLS_INSECURE_SKIP_VERIFY"
    assert normalize_name("ssl-verify") == "SSL_VERIFY"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://app:8080/x", None),
        ("http://localhost:9000", None),
        ("http://127.0.0.2/", None),
        ("https://api.example.com/v1", None),
        ("http://api.example.com/v1", "plain http"),
        ("ws://events.example.com", "plain ws"),
        ("redis://cache.example.com:6379", "plain redis"),
        ("postgresql://db.example.com/app", "without requiring TLS"),
        ("postgresql://db.example.com/app?sslmode=verify-full", None),
        ("postgresql://db.example.com/app?sslmode=disable", "sslmode=disable"),
        ("not a url", None),
    ],
)
def test_outbound_urls(url: str, problem: str | None) -> None:
    got = url_problem(url, {"app", "localhost"})
    assert (got is None) if problem is None else (got is not None and problem in got)
