"""The tls provider's executors: keys, self-signed certificates, requests and locally signed
certificates, built with `cryptography`."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
from collections.abc import Mapping
from typing import Any

from .executor import Context, Executor, Recorded, Request
from .inputs import HONOURED, UnhonouredInput, as_int


class _Tls(Executor):
    _SUBJECT = {
        "commonName": HONOURED,
        "organization": HONOURED,
        "organizationalUnit": HONOURED,
        "country": HONOURED,
        "locality": HONOURED,
        "province": HONOURED,
    }

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        return None

    @staticmethod
    def _name(subject: Mapping[str, str] | None) -> Any:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        oids = {
            "commonName": NameOID.COMMON_NAME,
            "organization": NameOID.ORGANIZATION_NAME,
            "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
            "country": NameOID.COUNTRY_NAME,
            "locality": NameOID.LOCALITY_NAME,
            "province": NameOID.STATE_OR_PROVINCE_NAME,
        }
        return x509.Name([x509.NameAttribute(oids[k], v) for k, v in (subject or {}).items()])

    @staticmethod
    def _sans(inputs: Mapping[str, Any]) -> list[Any]:
        from cryptography import x509

        sans: list[Any] = [x509.DNSName(n) for n in inputs.get("dnsNames") or []]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in inputs.get("ipAddresses") or []]
        return sans

    @staticmethod
    def _build(
        inputs: Mapping[str, Any], subject: Any, public_key: Any, issuer: Any, issuer_key: Any, sans: list
    ) -> str:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from cryptography.x509.oid import ExtendedKeyUsageOID

        uses = set(inputs.get("allowedUses") or [])
        known = {
            "digital_signature",
            "key_encipherment",
            "cert_signing",
            "crl_signing",
            "server_auth",
            "client_auth",
        }
        if uses - known:
            raise UnhonouredInput(f"allowedUses {sorted(uses - known)} are not honoured")
        now = dt.datetime.now(dt.UTC)
        is_ca = bool(inputs.get("isCaCertificate", False))
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=as_int(inputs["validityPeriodHours"])))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature="digital_signature" in uses,
                    content_commitment=False,
                    key_encipherment="key_encipherment" in uses,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign="cert_signing" in uses,
                    crl_sign="crl_signing" in uses,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        )
        ekus = [
            oid
            for use, oid in (
                ("server_auth", ExtendedKeyUsageOID.SERVER_AUTH),
                ("client_auth", ExtendedKeyUsageOID.CLIENT_AUTH),
            )
            if use in uses
        ]
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if inputs.get("setSubjectKeyId"):
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
            )
        algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        certificate = builder.sign(issuer_key, algorithm)
        return certificate.public_bytes(serialization.Encoding.PEM).decode()


class PrivateKeyExecutor(_Tls):
    type = "tls:index/privateKey:PrivateKey"
    fields = {"algorithm": HONOURED, "rsaBits": HONOURED, "ecdsaCurve": HONOURED}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        algorithm = req.inputs.get("algorithm", "RSA")
        if algorithm == "RSA":
            key: Any = rsa.generate_private_key(65537, as_int(req.inputs.get("rsaBits", 2048)))
        elif algorithm == "ECDSA":
            curves = {
                "P224": ec.SECP224R1(),
                "P256": ec.SECP256R1(),
                "P384": ec.SECP384R1(),
                "P521": ec.SECP521R1(),
            }
            key = ec.generate_private_key(curves[req.inputs.get("ecdsaCurve", "P224")])
        elif algorithm == "ED25519":
            key = ed25519.Ed25519PrivateKey.generate()
        else:
            raise UnhonouredInput(f"private key algorithm {algorithm!r}")
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        return "key", {**req.inputs, "privateKeyPem": pem, "privateKeyPemPkcs8": pem, "publicKeyPem": public}


def _load_key(pem: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem.encode(), password=None)


class SelfSignedCertExecutor(_Tls):
    type = "tls:index/selfSignedCert:SelfSignedCert"
    fields = {
        "privateKeyPem": HONOURED,
        "subject": _Tls._SUBJECT,
        "validityPeriodHours": HONOURED,
        "earlyRenewalHours": HONOURED,
        "allowedUses": HONOURED,
        "isCaCertificate": HONOURED,
        "dnsNames": HONOURED,
        "ipAddresses": HONOURED,
        "setSubjectKeyId": HONOURED,
    }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        key = _load_key(req.inputs["privateKeyPem"])
        name = self._name(req.inputs.get("subject"))
        pem = self._build(req.inputs, name, key.public_key(), name, key, self._sans(req.inputs))
        return "cert", {**req.inputs, "certPem": pem}


class CertRequestExecutor(_Tls):
    type = "tls:index/certRequest:CertRequest"
    fields = {
        "privateKeyPem": HONOURED,
        "subject": _Tls._SUBJECT,
        "dnsNames": HONOURED,
        "ipAddresses": HONOURED,
    }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        key = _load_key(req.inputs["privateKeyPem"])
        builder = x509.CertificateSigningRequestBuilder().subject_name(self._name(req.inputs.get("subject")))
        sans = self._sans(req.inputs)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        csr = builder.sign(key, algorithm)
        return "csr", {**req.inputs, "certRequestPem": csr.public_bytes(serialization.Encoding.PEM).decode()}


class LocallySignedCertExecutor(_Tls):
    type = "tls:index/locallySignedCert:LocallySignedCert"
    fields = {
        "certRequestPem": HONOURED,
        "caPrivateKeyPem": HONOURED,
        "caCertPem": HONOURED,
        "validityPeriodHours": HONOURED,
        "earlyRenewalHours": HONOURED,
        "allowedUses": HONOURED,
        "isCaCertificate": HONOURED,
    }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        from cryptography import x509

        csr = x509.load_pem_x509_csr(req.inputs["certRequestPem"].encode())
        ca_cert = x509.load_pem_x509_certificate(req.inputs["caCertPem"].encode())
        ca_key = _load_key(req.inputs["caPrivateKeyPem"])
        sans: list[Any] = []
        with contextlib.suppress(x509.ExtensionNotFound):
            sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        pem = self._build(req.inputs, csr.subject, csr.public_key(), ca_cert.subject, ca_key, sans)
        return "cert", {**req.inputs, "certPem": pem}
