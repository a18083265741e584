"""Certificate fixtures: a test PKI (CAs, leaves, chains, keys as PEM) for the edge's TLS."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KeyType = str  # "ec256" | "ec384" | "rsa2048" | "rsa4096" | "rsa1024"


def new_key(key_type: KeyType = "ec256") -> Any:
    if key_type == "ec256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    raise ValueError(key_type)


def key_pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Issued:
    cert: x509.Certificate
    key: Any

    @property
    def cert_pem(self) -> str:
        return cert_pem(self.cert)

    @property
    def key_pem(self) -> str:
        return key_pem(self.key)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(
    common_name: str = "Edge Lab Root CA",
    *,
    issuer: Issued | None = None,
    key_type: KeyType = "ec256",
    days: int = 365,
) -> Issued:
    """A root CA, or an intermediate when `issuer` is given."""
    key = new_key(key_type)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.cert.subject if issuer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0), critical=True
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def make_leaf(
    issuer: Issued,
    dns_names: Sequence[str],
    *,
    ip_addresses: Sequence[str] = (),
    key_type: KeyType = "ec256",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    ocsp_url: str | None = None,
    key: Any = None,
) -> Issued:
    key = key or new_key(key_type)
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    alt_names += [x509.IPAddress(ip_address(ip)) for ip in ip_addresses]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0] if dns_names else ip_addresses[0]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(minutes=5))
        .not_valid_after(not_after or now + dt.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                    )
                ]
            ),
            critical=False,
        )
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def chain_of(*certs: Issued) -> str:
    return "".join(c.cert_pem for c in certs)


@dataclass
class TestPki:
    """Root -> intermediate -> leaf, written to `directory` for clients (root.pem)."""

    __test__ = False  # a fixture, not a test class, wherever a test module imports it

    root: Issued
    intermediate: Issued
    leaf: Issued
    directory: Path

    @property
    def chain_pem(self) -> str:
        """What a server sends: leaf then intermediate (not the root)."""
        return chain_of(self.leaf, self.intermediate)

    @property
    def root_file(self) -> Path:
        return self.directory / "root.pem"


def make_pki(
    directory: Path, hosts: Sequence[str], *, key_type: KeyType = "ec256", days: int = 90
) -> TestPki:
    directory.mkdir(parents=True, exist_ok=True)
    root = make_ca("Edge Lab Root CA")
    intermediate = make_ca("Edge Lab Intermediate CA", issuer=root)
    leaf = make_leaf(
        intermediate, hosts, key_type=key_type, not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    )
    pki = TestPki(root, intermediate, leaf, directory)
    pki.root_file.write_text(root.cert_pem)
    return pki


def write_private(path: Path, content: str) -> None:
    """What the secret-file installer does on the encrypted volume: 0600, never world-readable."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
