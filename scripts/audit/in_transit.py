"""In transit: the edge's protocols, suites, certificates, redirect and security headers as seen
from outside (edge_scan.py's facts), against the stack's TLS profile and header rules (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import Control, Expected, ExpectedEdge, Status

REDIRECT_STATUSES = (301, 308)


def _control(id_: str, promise: str, status: Status, summary: str, /, **details: Any) -> Control:
    return Control(id_, "in-transit", promise, status, summary, details)


def _protocols(edge: ExpectedEdge, facts: Mapping[str, Any]) -> Control:
    offered = facts.get("protocols") or {}
    allowed = {"1.2", "1.3"} if edge.min_tls_version == "1.2" else {"1.3"}
    refused = [v for v, ok in offered.items() if ok and v not in allowed]
    untested = sorted(v for v, ok in offered.items() if ok is None and v not in allowed)
    details = {"offered": offered, "allowed": sorted(allowed)}
    if refused:
        return _control(
            "in-transit.tls-protocols",
            "tls-versions",
            "fail",
            f"the edge accepts TLS {', '.join(refused)}",
            **details,
        )
    missing = sorted(v for v in allowed if not offered.get(v))
    if missing:
        return _control(
            "in-transit.tls-protocols",
            "tls-versions",
            "fail",
            f"the edge does not offer TLS {', '.join(missing)}",
            **details,
        )
    if untested:
        return _control(
            "in-transit.tls-protocols",
            "tls-versions",
            "warn",
            f"TLS {', '.join(sorted(allowed))} only as far as tested: this machine's TLS library cannot offer TLS {', '.join(untested)}",
            **details,
        )
    return _control(
        "in-transit.tls-protocols",
        "tls-versions",
        "pass",
        f"TLS {' and '.join(sorted(allowed))} only",
        **details,
    )


def _suites(edge: ExpectedEdge, facts: Mapping[str, Any]) -> Control:
    accepted = list(facts.get("tls12Suites") or [])
    outside = sorted(set(accepted) - set(edge.tls12_cipher_suites))
    details = {"accepted": accepted, "profile": list(edge.tls12_cipher_suites)}
    if outside:
        return _control(
            "in-transit.tls12-cipher-suites",
            "tls-versions",
            "fail",
            f"TLS 1.2 suites outside the Mozilla profile: {', '.join(outside)}",
            **details,
        )
    if edge.tls12_cipher_suites and not accepted:
        return _control(
            "in-transit.tls12-cipher-suites",
            "tls-versions",
            "fail",
            "no TLS 1.2 suite of the profile is accepted",
            **details,
        )
    return _control(
        "in-transit.tls12-cipher-suites",
        "tls-versions",
        "pass",
        f"{len(accepted)} TLS 1.2 suites, all of the Mozilla profile",
        **details,
    )


def _covers(sans: list[str], host: str) -> bool:
    for name in sans:
        if name.lower() == host.lower():
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1].lower() == name[2:].lower():
            return True
    return False


def _certificate(expected: Expected, edge: ExpectedEdge, host: str, cert: Mapping[str, Any]) -> list[Control]:
    controls = []
    details = {k: cert.get(k) for k in ("subject", "issuer", "sans", "notAfter", "daysLeft", "error")}
    if cert.get("verified"):
        controls.append(
            _control(
                f"in-transit.certificate-chain[{host}]",
                "certificates",
                "pass",
                f"chain verified for {host} ({cert.get('issuer')})",
                **details,
            )
        )
    else:
        controls.append(
            _control(
                f"in-transit.certificate-chain[{host}]",
                "certificates",
                "fail",
                f"the chain served for {host} does not verify: {cert.get('error')}",
                **details,
            )
        )
    sans = list(cert.get("sans") or [])
    if _covers(sans, host):
        controls.append(
            _control(
                f"in-transit.certificate-names[{host}]",
                "certificates",
                "pass",
                f"the certificate names {host}",
                **details,
            )
        )
    else:
        controls.append(
            _control(
                f"in-transit.certificate-names[{host}]",
                "certificates",
                "fail",
                f"the certificate served for {host} names only {', '.join(sans) or 'nothing'}",
                **details,
            )
        )
    days = cert.get("daysLeft")
    if days is None:
        controls.append(
            _control(
                f"in-transit.certificate-expiry[{host}]",
                "certificates",
                "fail",
                "no certificate was served",
                **details,
            )
        )
    elif days < expected.expiry_fail_days:
        controls.append(
            _control(
                f"in-transit.certificate-expiry[{host}]",
                "certificates",
                "fail",
                f"expires in {days} days ({cert.get('notAfter')}): renewal failed",
                **details,
            )
        )
    elif days < expected.expiry_warn_days:
        controls.append(
            _control(
                f"in-transit.certificate-expiry[{host}]",
                "certificates",
                "warn",
                f"expires in {days} days ({cert.get('notAfter')}): renewal is late",
                **details,
            )
        )
    else:
        controls.append(
            _control(
                f"in-transit.certificate-expiry[{host}]",
                "certificates",
                "pass",
                f"valid for {days} more days",
                **details,
            )
        )
    ocsp_urls = cert.get("ocspUrls") or []
    if not edge.staples_ocsp:
        controls.append(
            _control(
                f"in-transit.ocsp-stapling[{host}]",
                "certificates",
                "skip",
                f"the edge staples OCSP only for custom certificates (mode {edge.certificate_mode})",
            )
        )
    elif not ocsp_urls:
        controls.append(
            _control(
                f"in-transit.ocsp-stapling[{host}]",
                "certificates",
                "skip",
                "the certificate names no OCSP responder",
            )
        )
    elif cert.get("ocspStapled") is None:
        controls.append(
            _control(
                f"in-transit.ocsp-stapling[{host}]",
                "certificates",
                "skip",
                "not checked: no openssl command on this machine",
            )
        )
    elif cert.get("ocspStapled"):
        controls.append(
            _control(
                f"in-transit.ocsp-stapling[{host}]",
                "certificates",
                "pass",
                "an OCSP response is stapled",
                ocsp=ocsp_urls,
            )
        )
    else:
        controls.append(
            _control(
                f"in-transit.ocsp-stapling[{host}]",
                "certificates",
                "fail",
                f"no OCSP response stapled although the certificate names {', '.join(ocsp_urls)}",
                ocsp=ocsp_urls,
            )
        )
    return controls


def _redirect(edge: ExpectedEdge, host: str, redirect: Mapping[str, Any]) -> Control:
    id_ = f"in-transit.https-redirect[{host}]"
    status, location = redirect.get("status"), str(redirect.get("location") or "")
    port = "" if edge.https_port == 443 else f":{edge.https_port}"
    target = f"https://{host}{port}/"
    details = {"status": status, "location": location, "expected": target, "error": redirect.get("error")}
    if status in REDIRECT_STATUSES and location == target:
        return _control(
            id_, "https-redirect", "pass", f"http://{host}/ answers {status} to {target}", **details
        )
    return _control(
        id_,
        "https-redirect",
        "fail",
        f"http://{host}/ answers {status or redirect.get('error')} {location}, not a permanent redirect to {target}",
        **details,
    )


def _headers(edge: ExpectedEdge, route: str, response: Mapping[str, Any]) -> Control:
    id_ = f"in-transit.security-headers[{route}]"
    got = response.get("headers") or {}
    if response.get("status") is None:
        return _control(id_, "security-headers", "fail", f"no response: {response.get('error')}")
    wrong = {
        name: got.get(name.lower())
        for name, value in edge.headers.items()
        if got.get(name.lower()) != [value]
    }
    banners = [name for name in edge.headers_absent if got.get(name.lower())]
    details = {"status": response.get("status"), "wrong": wrong, "banners": banners, "expected": edge.headers}
    if wrong or banners:
        parts = [f"{n}: {v or 'missing'}" for n, v in wrong.items()] + [f"{n} present" for n in banners]
        return _control(id_, "security-headers", "fail", "; ".join(parts), **details)
    return _control(
        id_, "security-headers", "pass", f"{len(edge.headers)} security headers as set, no banner", **details
    )


def _websocket(route: str, upgrades: Mapping[str, Any] | None) -> Control:
    """A WebSocket upgrade from a foreign Origin, and from an allowed Origin without a session, is
    refused (anything but 101). Whether a valid session is let through needs a session: not here."""
    id_ = f"in-transit.websocket[{route}]"
    if not upgrades:
        return _control(id_, "websocket", "skip", "the WebSocket upgrades were not probed")
    switched = [
        f"{what} ({probe.get('origin')})"
        for what, probe in (
            ("a foreign Origin", upgrades.get("foreignOrigin")),
            ("no session", upgrades.get("noSession")),
        )
        if probe and probe.get("status") == 101
    ]
    unanswered = [p.get("error") for p in upgrades.values() if p and p.get("status") is None]
    details = dict(upgrades)
    if switched:
        return _control(
            id_,
            "websocket",
            "fail",
            f"the edge upgraded a WebSocket with {' and '.join(switched)}",
            **details,
        )
    if unanswered:
        return _control(id_, "websocket", "fail", f"no answer to an upgrade: {unanswered[0]}", **details)
    if upgrades.get("noSession") is None:
        return _control(
            id_,
            "websocket",
            "warn",
            "a foreign Origin is refused; no allowed Origin is set to try without a session",
            **details,
        )
    statuses = {k: (v or {}).get("status") for k, v in upgrades.items()}
    return _control(
        id_,
        "websocket",
        "pass",
        f"a foreign Origin and a missing session are refused ({statuses})",
        **details,
    )


def check(expected: Expected, facts: Mapping[str, Any] | None) -> list[Control]:
    edge = expected.edge
    if edge is None:
        return [
            _control("in-transit.edge", "tls-versions", "skip", "the stack routes nothing through the edge")
        ]
    if facts is None:
        return [
            _control(
                "in-transit.edge",
                "tls-versions",
                "skip",
                "the edge was not scanned (no --edge, or the scan was turned off)",
            )
        ]
    if not facts.get("reachable"):
        return [
            _control(
                "in-transit.edge", "tls-versions", "fail", f"the edge does not answer: {facts.get('error')}"
            )
        ]
    controls = [_protocols(edge, facts), _suites(edge, facts)]
    for host in edge.hosts:
        controls += _certificate(expected, edge, host, (facts.get("certificates") or {}).get(host) or {})
        controls.append(_redirect(edge, host, (facts.get("redirects") or {}).get(host) or {}))
    for route in edge.routes:
        if route.websocket:
            controls.append(_websocket(route.name, (facts.get("upgrades") or {}).get(route.name)))
            continue
        controls.append(_headers(edge, route.name, (facts.get("responses") or {}).get(route.name) or {}))
    return controls
