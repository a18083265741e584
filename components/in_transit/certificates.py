"""Pure checks of X.509 material for the edge (no Pulumi here).

`chain_problems` and `key_problems` decide whether a custom certificate chain and private key can
serve the configured hosts; the settings layer turns their messages into errors that name config
keys. Everything is computed from PEM text and an explicit `now`, so tests control time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

EXPIRY_WARNING_DAYS = 30
MIN_RSA_BITS = 2048
_PEM_CERT_BEGIN = "-----BEGIN CERTIFICATE-----"


def load_chain(pem: str) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, in file order. Raises ValueError with a short reason."""
    if _PEM_CERT_BEGIN not in pem:
        raise ValueError("no PEM certificate found (expected '-----BEGIN CERTIFICATE-----' blocks)")
    try:
        return x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise ValueError(f"cannot parse the PEM certificates ({exc})") from None


def describe(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if names:
        value = names[0].value
        return f"CN={value.decode() if isinstance(value, bytes) else value}"
    return cert.subject.rfc4514_string() or "(empty subject)"


def dns_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return []
    assert isinstance(san, x509.SubjectAlternativeName)
    return [name.lower() for name in san.get_values_for_type(x509.DNSName)]


def name_matches(pattern: str, host: str) -> bool:
    """RFC 6125 matching: exact, or a wildcard that stands for exactly one left-most label."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == host:
        return True
    if pattern.startswith("*.") and "." in host:
        return host.split(".", 1)[1] == pattern[2:]
    return False


def uncovered_hosts(cert: x509.Certificate, hosts: Iterable[str]) -> list[str]:
    names = dns_names(cert)
    return sorted({h for h in hosts if not any(name_matches(n, h) for n in names)})


def is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    except x509.ExtensionNotFound:
        return False
    assert isinstance(constraints, x509.BasicConstraints)
    return constraints.ca


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _key_problem(cert: x509.Certificate) -> str | None:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return f"the leaf has a {key.key_size}-bit RSA key; at least {MIN_RSA_BITS} bits are required"
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return "the leaf key must be RSA or ECDSA (what TLS 1.2 clients accept)"
    return None


def chain_problems(pem: str, hosts: Sequence[str], now: dt.datetime) -> list[str]:
    """Why this chain cannot serve `hosts` at `now` (empty when it can)."""
    try:
        chain = load_chain(pem)
    except ValueError as exc:
        return [str(exc)]
    problems: list[str] = []
    leaf = chain[0]
    if is_ca(leaf):
        problems.append(
            f"the first certificate ({describe(leaf)}) is a CA: put the server (leaf) certificate first, "
            "then each issuer in order"
        )
    for index, (child, parent) in enumerate(zip(chain, chain[1:], strict=False), start=1):
        if not _issued_by(child, parent):
            problems.append(
                f"certificate {index + 1} ({describe(parent)}) did not issue certificate {index} "
                f"({describe(child)}): order the chain leaf first, then each issuer"
            )
    for index, cert in enumerate(chain, start=1):
        if cert.not_valid_after_utc <= now:
            problems.append(
                f"certificate {index} ({describe(cert)}) expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
            )
        elif cert.not_valid_before_utc > now:
            problems.append(
                f"certificate {index} ({describe(cert)}) is not valid before "
                f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
            )
    if not dns_names(leaf):
        problems.append(f"the leaf ({describe(leaf)}) has no DNS subjectAltName; browsers ignore the CN")
    else:
        missing = uncovered_hosts(leaf, hosts)
        if missing:
            problems.append(
                f"the leaf does not cover {', '.join(missing)} (its DNS names: {', '.join(dns_names(leaf))})"
            )
    key_problem = _key_problem(leaf)
    if key_problem:
        problems.append(key_problem)
    return problems


def chain_warnings(pem: str, now: dt.datetime) -> list[str]:
    """Things that work today but deserve attention (only meaningful for a chain without problems)."""
    try:
        chain = load_chain(pem)
    except ValueError:
        return []
    warnings: list[str] = []
    soon = now + dt.timedelta(days=EXPIRY_WARNING_DAYS)
    for index, cert in enumerate(chain, start=1):
        if now < cert.not_valid_after_utc <= soon:
            days = (cert.not_valid_after_utc - now).days
            warnings.append(
                f"certificate {index} ({describe(cert)}) expires in {days} days "
                f"({cert.not_valid_after_utc:%Y-%m-%d} UTC): renew it"
            )
    if len(chain) > 1 and is_self_signed(chain[-1]):
        warnings.append(
            f"the chain ends with the self-signed root ({describe(chain[-1])}): clients already hold it; "
            "serving it only costs bytes and makes scanners warn"
        )
    return warnings


def leaf_is_ecdsa(pem: str) -> bool:
    try:
        return isinstance(load_chain(pem)[0].public_key(), ec.EllipticCurvePublicKey)
    except ValueError:
        return False


def key_problems(chain_pem: str, key_pem: str) -> list[str]:
    """Why `key_pem` cannot be the private key of the chain's leaf (empty when it is)."""
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except TypeError:
        return ["the private key is encrypted; store it unencrypted as a Pulumi secret"]
    except ValueError:
        return ["not a PEM private key ('-----BEGIN PRIVATE KEY-----' or 'BEGIN EC/RSA PRIVATE KEY')"]
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return ["Ed25519/Ed448 keys are not usable for TLS server certificates; use ECDSA P-256 or RSA"]
    try:
        leaf = load_chain(chain_pem)[0]
    except ValueError:
        return []  # the chain's own problem is reported for the chain key
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    ours = key.public_key().public_bytes(serialization.Encoding.DER, public)
    theirs = leaf.public_key().public_bytes(serialization.Encoding.DER, public)
    if ours != theirs:
        return [f"does not match the public key of the leaf certificate ({describe(leaf)})"]
    return []
