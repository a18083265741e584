"""TLS at the edge: the protocol profile of the websecure entrypoint and where the certificates
come from (ACME, a custom chain from an existing PKI, or a dev CA): config keys `edge.tls` and
`edge.certificates`.

Example (Pulumi.<stack>.yaml):

    encrypted-platform:edge:
      tls: {profile: intermediate}
      certificates:
        mode: acme                       # acme | custom | dev
        acme: {email: ops@example.org}   # Let's Encrypt production unless caServer/staging

A custom chain is checked against the hosts of `edge.routes` in EdgeSettings (components/settings/
edge.py) and against the secret key edgeTlsPrivateKey in components/settings/checks.py.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from components.in_transit import certificates

from .base import Flag, Integer, Model
from .grammar import PRINTABLE_LINE, grammar
from .keys import KeyProblem

if TYPE_CHECKING:
    from .edge import EdgeSettings

LETS_ENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_CERTIFICATE_HOURS = 2160  # 90 days


_EMAIL = grammar(
    "e-mail", r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", "ops@example.org"
)


class TlsSettings(Model):
    """TLS policy of the websecure entrypoint (Traefik's `tls.options.default`)."""

    profile: Literal["intermediate", "modern"] = Field(
        "intermediate",
        description="Mozilla profile: 'intermediate' (TLS 1.2 + 1.3, ECDHE AEAD suites) or 'modern' (TLS 1.3 only).",
    )
    min_version: str | None = Field(
        None, description="'1.2' or '1.3'; defaults to the profile's (1.2 intermediate, 1.3 modern)."
    )

    @field_validator("min_version")
    @classmethod
    def _min_version(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value in ("1.0", "1.1") or value.lower().startswith(("ssl", "tls1.0", "tls1.1")):
            raise ValueError(
                f"TLS 1.0 and 1.1 are not allowed (deprecated, RFC 8996); use '1.2' or '1.3', got {value!r}"
            )
        if value not in ("1.2", "1.3"):
            raise ValueError(f"must be '1.2' or '1.3', got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TlsSettings:
        if self.profile == "modern" and self.min_version == "1.2":
            raise KeyProblem(
                "minVersion", "the 'modern' profile is TLS 1.3 only; use profile 'intermediate' for 1.2"
            )
        return self

    @property
    def effective_min_version(self) -> str:
        if self.min_version:
            return self.min_version
        return "1.3" if self.profile == "modern" else "1.2"


class AcmeSettings(Model):
    """ACME (Let's Encrypt by default) with the HTTP-01 challenge on the web entrypoint."""

    email: str = Field("", description="Account e-mail for expiry notices (required in acme mode).")
    ca_server: str | None = Field(
        None, description="ACME directory URL (https only); default Let's Encrypt production."
    )
    staging: Flag = Field(
        False, description="Use Let's Encrypt staging (untrusted certificates, for trials)."
    )
    certificates_duration: Integer = Field(
        LETS_ENCRYPT_CERTIFICATE_HOURS,
        ge=1,
        le=24 * 398,
        description="Lifetime in hours of the CA's certificates (Traefik schedules renewals from it).",
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not _EMAIL.matches(value):
            raise ValueError(f"must be an e-mail address, got {value!r}")
        return value

    @field_validator("ca_server")
    @classmethod
    def _ca_server(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if (
            not value.startswith("https://")
            or len(value) <= len("https://")
            or not PRINTABLE_LINE.matches(value)
            or " " in value
        ):
            raise ValueError(
                f"must be an https:// ACME directory URL (account keys and certificates travel over it), got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _one_server(self) -> AcmeSettings:
        if self.staging and self.ca_server:
            raise KeyProblem("staging", "selects Let's Encrypt staging; remove it or remove caServer")
        return self

    @property
    def directory(self) -> str:
        if self.ca_server:
            return self.ca_server
        return LETS_ENCRYPT_STAGING if self.staging else LETS_ENCRYPT_PRODUCTION


class CertificateSettings(Model):
    """Where the edge's certificates come from: one mode per stack."""

    mode: Literal["acme", "custom", "dev"] = Field(
        "dev",
        description="'acme': Let's Encrypt/ACME HTTP-01; 'custom': chain + key from config (existing PKI); "
        "'dev': a local CA made by Pulumi (export devCaCertificate to trust it).",
    )
    acme: AcmeSettings = Field(default_factory=AcmeSettings, description="ACME settings (mode acme).")
    chain: str | None = Field(
        None,
        description="Custom mode: PEM chain, leaf first then intermediates (the key is the secret "
        "config key edgeTlsPrivateKey).",
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def chain_warnings(edge: EdgeSettings) -> list[str]:
    """Preview warnings about the custom chain (e.g. expiring within 30 days)."""
    if edge.certificates.mode != "custom" or not edge.certificates.chain:
        return []
    warnings = certificates.chain_warnings(edge.certificates.chain, utc_now())
    if edge.tls.effective_min_version == "1.3" and not certificates.leaf_is_ecdsa(edge.certificates.chain):
        warnings.append("Mozilla 'modern' expects an ECDSA P-256 leaf; this one is RSA")
    return [f"edge.certificates.chain: {w}" for w in warnings]
