"""Pure checks of custom certificate chains and keys (components/in_transit/certificates.py), with real
certificates made by the test PKI."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from components.in_transit import certificates
from tests.support.edgelab.pki import Issued, chain_of, make_ca, make_leaf

HOSTS = ["app.example.test", "admin.example.test"]


@pytest.fixture(scope="module")
def root() -> Issued:
    return make_ca("Unit Root")


@pytest.fixture(scope="module")
def intermediate(root: Issued) -> Issued:
    return make_ca("Unit Intermediate", issuer=root)


@pytest.fixture(scope="module")
def leaf(intermediate: Issued) -> Issued:
    return make_leaf(intermediate, HOSTS)


@pytest.fixture
def now(leaf: Issued) -> dt.datetime:
    """The checks' clock, read when the test runs: the test PKI's certificates start at their
    creation, so a clock read earlier (say at collection, minutes before) would predate them."""
    return dt.datetime.now(dt.UTC)


def test_a_good_chain_has_no_problem_and_no_warning(
    leaf: Issued, intermediate: Issued, now: dt.datetime
) -> None:
    pem = chain_of(leaf, intermediate)
    assert certificates.chain_problems(pem, HOSTS, now) == []
    assert certificates.chain_warnings(pem, now) == []


def test_reversed_order_is_reported(leaf: Issued, intermediate: Issued, now: dt.datetime) -> None:
    problems = certificates.chain_problems(chain_of(intermediate, leaf), HOSTS, now)
    assert any("is a CA: put the server (leaf) certificate first" in p for p in problems)
    assert any("did not issue certificate 1" in p for p in problems)


def test_an_intermediate_from_another_ca_is_reported(leaf: Issued, root: Issued, now: dt.datetime) -> None:
    stranger = make_ca("Stranger Intermediate", issuer=root)
    problems = certificates.chain_problems(chain_of(leaf, stranger), HOSTS, now)
    assert problems == [
        "certificate 2 (CN=Stranger Intermediate) did not issue certificate 1 (CN=app.example.test): "
        "order the chain leaf first, then each issuer"
    ]


def test_hosts_not_covered_are_named(leaf: Issued, intermediate: Issued, now: dt.datetime) -> None:
    problems = certificates.chain_problems(chain_of(leaf, intermediate), [*HOSTS, "api.example.test"], now)
    assert problems == [
        "the leaf does not cover api.example.test (its DNS names: app.example.test, admin.example.test)"
    ]


def test_wildcards_cover_exactly_one_label(intermediate: Issued, now: dt.datetime) -> None:
    wildcard = make_leaf(intermediate, ["*.example.test"])
    pem = chain_of(wildcard, intermediate)
    assert certificates.chain_problems(pem, ["app.example.test"], now) == []
    assert (
        "does not cover a.b.example.test, example.test"
        in certificates.chain_problems(pem, ["a.b.example.test", "example.test"], now)[0]
    )


def test_expired_and_not_yet_valid_certificates_are_reported(intermediate: Issued, now: dt.datetime) -> None:
    expired = make_leaf(
        intermediate, HOSTS, not_before=now - dt.timedelta(days=100), not_after=now - dt.timedelta(days=1)
    )
    assert any(
        "expired on" in p for p in certificates.chain_problems(chain_of(expired, intermediate), HOSTS, now)
    )
    future = make_leaf(
        intermediate, HOSTS, not_before=now + dt.timedelta(days=1), not_after=now + dt.timedelta(days=90)
    )
    assert any(
        "is not valid before" in p
        for p in certificates.chain_problems(chain_of(future, intermediate), HOSTS, now)
    )


def test_expiry_within_30_days_is_a_warning_not_a_problem(intermediate: Issued, now: dt.datetime) -> None:
    soon = make_leaf(intermediate, HOSTS, not_after=now + dt.timedelta(days=10, hours=1))
    pem = chain_of(soon, intermediate)
    assert certificates.chain_problems(pem, HOSTS, now) == []
    warnings = certificates.chain_warnings(pem, now)
    assert len(warnings) == 1 and "expires in 10 days" in warnings[0]


def test_serving_the_root_is_a_warning(
    leaf: Issued, intermediate: Issued, root: Issued, now: dt.datetime
) -> None:
    pem = chain_of(leaf, intermediate, root)
    assert certificates.chain_problems(pem, HOSTS, now) == []
    assert any("ends with the self-signed root" in w for w in certificates.chain_warnings(pem, now))


def test_no_dns_san_and_weak_rsa_are_reported(intermediate: Issued, now: dt.datetime) -> None:
    no_san = make_leaf(intermediate, [], ip_addresses=["127.0.0.1"])
    assert any(
        "has no DNS subjectAltName" in p for p in certificates.chain_problems(no_san.cert_pem, HOSTS, now)
    )
    weak = make_leaf(intermediate, HOSTS, key_type="rsa1024")
    assert any("1024-bit RSA key" in p for p in certificates.chain_problems(weak.cert_pem, HOSTS, now))


@pytest.mark.parametrize(
    "text", ["", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
)
def test_unparseable_chains_are_reported(text: str, now: dt.datetime) -> None:
    problems = certificates.chain_problems(text, HOSTS, now)
    assert len(problems) == 1
    assert "PEM" in problems[0]


def test_the_key_must_match_the_leaf(leaf: Issued, intermediate: Issued) -> None:
    pem = chain_of(leaf, intermediate)
    assert certificates.key_problems(pem, leaf.key_pem) == []
    other = make_leaf(intermediate, HOSTS)
    assert certificates.key_problems(pem, other.key_pem) == [
        "does not match the public key of the leaf certificate (CN=app.example.test)"
    ]
    # The intermediate's key is a valid key too, just not the leaf's.
    assert certificates.key_problems(pem, intermediate.key_pem) != []


def test_encrypted_garbage_and_ed25519_keys_are_refused(leaf: Issued, intermediate: Issued) -> None:
    pem = chain_of(leaf, intermediate)
    encrypted = leaf.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    ).decode()
    assert "encrypted" in certificates.key_problems(pem, encrypted)[0]
    assert "not a PEM private key" in certificates.key_problems(pem, "garbage")[0]
    ed = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    assert "Ed25519" in certificates.key_problems(pem, ed)[0]


def test_name_matching_is_case_insensitive_and_ignores_a_trailing_dot() -> None:
    assert certificates.name_matches("App.Example.TEST", "app.example.test.")
    assert not certificates.name_matches("*.example.test", "example.test")
    assert not certificates.name_matches("app.example.test", "evilapp.example.test")
