"""Unlock at boot without a key on the host: the clevis binding of a volume's extra key slot, to
Tang servers (`encryption.unlockAtBoot: tang`, network-bound) or to the host's TPM 2.0
(`tpm2`).

Tang speaks plain HTTP by design: the exchange (McCallum-Relyea) never sends the key or anything
that leads to it, and the server's advertisement is signed; what makes the binding trustworthy is
the signing key's thumbprint pinned here, not TLS. The clevis configuration the LUKS program
binds with is rendered from these settings only (`tang_pin`, `tpm2_pin`), so the host binds exactly the
servers and keys that were reviewed.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Integer, Model
from .grammar import grammar
from .keys import KeyProblem

# An http(s) URL of host (a DNS name or IPv4 address), optional port and path: no user info, no
# query or fragment, nothing a shell, a JSON string or curl would read as more than a URL.
TANG_URL = grammar(
    "tang url",
    r"(?P<scheme>https?)://(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<path>(?:/[A-Za-z0-9._~-]*)*)",
    "http://tang-1.internal.example:7500",
)
# A JWK thumbprint (RFC 7638) in base64url without padding: SHA-1 (27 characters), SHA-256 (43,
# what `jose jwk thp` and `tang-show-keys` print), SHA-384 (64) or SHA-512 (86).
THUMBPRINT = grammar("jwk thumbprint", r"[A-Za-z0-9_-]{27}|[A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{64}|[A-Za-z0-9_-]{86}",
                     "rMNPpsLf3JJBWwcMWoRPrwyz-yQT1M9UxEz86vkr6lA")  # fmt: skip


class TangServer(Model):
    """One entry of `encryption.tang.servers`."""

    url: str = Field(description="The Tang server's URL, e.g. http://tang-1.internal.example:7500.")
    thumbprint: str = Field(
        description="Thumbprint of the server's signing key (`tang-show-keys` on the Tang server, "
        "or `jose jwk thp -i <sig>.jwk`): the host binds only to a server that signs with it."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        match = TANG_URL.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(
                f"must be an http(s) URL of the Tang server such as {TANG_URL.example!r} "
                f"(no user, query or fragment), got {value!r}"
            )
        port = match.group("port")
        if port is not None and not 1 <= int(port) <= 65535:
            raise ValueError(f"port must be 1 to 65535, got {port}")
        return value

    @field_validator("thumbprint")
    @classmethod
    def _thumbprint(cls, value: str) -> str:
        if not THUMBPRINT.matches(value):
            raise ValueError(
                "must be the base64url JWK thumbprint of the server's signing key "
                f"(43 characters for SHA-256, as tang-show-keys prints), got {value!r}"
            )
        return value


class TangSettings(Model):
    """Config key `encryption.tang`: used when `encryption.unlockAtBoot` is `tang`."""

    servers: list[TangServer] = Field(
        default_factory=list, description="The Tang servers (one or more), each with its pinned thumbprint."
    )
    threshold: Integer = Field(
        1, ge=1, le=16, description="How many of the servers must answer to unlock (Shamir secret sharing)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TangSettings:
        urls = [server.url for server in self.servers]
        for index, url in enumerate(urls):
            if url in urls[:index]:
                raise KeyProblem(("servers", index, "url"), f"{url} is listed twice")
        if self.servers and self.threshold > len(self.servers):
            raise KeyProblem(
                "threshold", f"is {self.threshold}, but only {len(self.servers)} Tang server(s) are listed"
            )
        return self


class Tpm2Settings(Model):
    """Config key `encryption.tpm2`: used when `encryption.unlockAtBoot` is `tpm2`."""

    pcr_bank: Literal["sha1", "sha256", "sha384", "sha512"] = Field(
        "sha256", description="PCR bank of the TPM policy."
    )
    pcr_ids: list[Integer] = Field(
        default_factory=lambda: [7],
        description="PCRs the key is sealed to (7: the Secure Boot state); [] seals to the TPM alone.",
    )

    @field_validator("pcr_ids")
    @classmethod
    def _pcrs(cls, value: list[int]) -> list[int]:
        for index, pcr in enumerate(value):
            if not 0 <= pcr <= 23:
                raise KeyProblem(index, f"a PCR is 0 to 23, got {pcr}")
            if pcr in value[:index]:
                raise KeyProblem(index, f"PCR {pcr} is listed twice")
        return value


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def tang_pin(tang: TangSettings) -> str:
    """The `sss` configuration `clevis luks bind` gets for Tang: one line, stable order. Always sss,
    also for one server, so adding a server later changes only this text."""
    pins = [{"url": server.url, "thp": server.thumbprint} for server in tang.servers]
    return _compact({"t": tang.threshold, "pins": {"tang": pins}})


def tpm2_pin(tpm2: Tpm2Settings) -> str:
    config: dict[str, str] = {"pcr_bank": tpm2.pcr_bank}
    if tpm2.pcr_ids:
        config["pcr_ids"] = ",".join(str(pcr) for pcr in tpm2.pcr_ids)
    return _compact({"t": 1, "pins": {"tpm2": [config]}})
