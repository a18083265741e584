"""Security headers, scored with the Mozilla HTTP Observatory rules (the header tests only), and
the headers the edge settings promise."""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from dataclasses import dataclass

from components.settings.edge import EdgeSettings

from .http_probes import Response

# Modifiers from the Observatory's score table (mdn/mdn-http-observatory, src/grader/charts.js).
OBSERVATORY_MODIFIERS = {
    "csp-implemented-with-no-unsafe-default-src-none": 10,
    "csp-implemented-with-no-unsafe": 5,
    "csp-implemented-with-unsafe-inline-in-style-src-only": 0,
    "csp-implemented-with-insecure-scheme-in-passive-content-only": -10,
    "csp-implemented-with-unsafe-eval": -10,
    "csp-implemented-with-unsafe-inline": -20,
    "csp-implemented-with-insecure-scheme": -20,
    "csp-header-invalid": -25,
    "csp-not-implemented": -25,
    "hsts-implemented-max-age-at-least-six-months": 0,
    "hsts-implemented-max-age-less-than-six-months": -10,
    "hsts-not-implemented": -20,
    "hsts-header-invalid": -20,
    "x-content-type-options-nosniff": 0,
    "x-content-type-options-not-implemented": -5,
    "x-content-type-options-header-invalid": -5,
    "x-frame-options-implemented-via-csp": 5,
    "x-frame-options-sameorigin-or-deny": 0,
    "x-frame-options-allow-from-origin": 0,
    "x-frame-options-not-implemented": -20,
    "x-frame-options-header-invalid": -20,
    "referrer-policy-private": 5,
    "referrer-policy-not-implemented": 0,
    "referrer-policy-unsafe": -5,
    "referrer-policy-header-invalid": -5,
}
MINIMUM_SCORE_FOR_EXTRA_CREDIT = 90
_GRADES = [
    (100, "A+"),
    (90, "A"),
    (85, "A-"),
    (80, "B+"),
    (70, "B"),
    (65, "B-"),
    (60, "C+"),
    (50, "C"),
    (45, "C-"),
    (40, "D+"),
    (30, "D"),
    (25, "D-"),
    (0, "F"),
]
_BROAD = {"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"}
_UNSAFE_INLINE = {"'unsafe-inline'", "data:"}
_PRIVATE_REFERRER = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
_UNSAFE_REFERRER = {"origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade"}
HSTS_SIX_MONTHS_OBSERVATORY = 15_552_000


@dataclass(frozen=True)
class HeaderScore:
    score: int
    grade: str
    results: dict[str, str]  # test name -> Observatory result id


def parse_csp(value: str) -> dict[str, set[str]]:
    """One policy. Raises ValueError where the Observatory would call the header invalid."""
    policy: dict[str, set[str]] = {}
    value = value.replace("\r", "").replace("\n", "").strip()
    if len(value) < len("img-src") - 1:
        raise ValueError("policy too short")
    for entry in value.split(";"):
        parts = entry.strip().split()
        if not parts:
            continue
        directive = parts[0].lower()
        if directive in policy:
            raise ValueError(f"duplicate directive {directive}")
        sources = {source.lower() for source in parts[1:]}
        if not sources and directive.endswith("-src"):
            sources = {"'none'"}
        policy[directive] = sources
    return policy


def _csp_result(values: list[str]) -> tuple[str, dict[str, set[str]] | None]:
    if not values:
        return "csp-not-implemented", None
    try:
        csp = parse_csp(values[0]) if len(values) == 1 else None
    except ValueError:
        return "csp-header-invalid", None
    if csp is None:
        raise NotImplementedError("several CSP headers: the scorer handles one policy")
    default = csp.get("default-src")
    script = set(csp.get("script-src") or default or {"*"})
    style = set(csp.get("style-src") or default or {"*"})
    objects = set(csp.get("object-src") or default or {"*"})
    nonce_or_hash = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")
    for sources in (script, style):
        if any(s.startswith(nonce_or_hash) for s in sources):
            sources.discard("'unsafe-inline'")
    result: str | None = None
    if any(s.startswith(nonce_or_hash) for s in script) and "'strict-dynamic'" in script:
        script = {
            s
            for s in script
            if not (any(s.startswith(b) for b in _BROAD) or s in ("'self'", "'unsafe-inline'"))
        }
    elif "'strict-dynamic'" in script:
        result = "csp-header-invalid"
    passive = {"img-src", "media-src"}
    active = [
        s for d, sources in csp.items() if d not in passive and d != "script-src" for s in sources
    ] + list(script)
    passive_sources = [s for d in passive for s in (csp.get(d) or default or set())]
    if script & (_BROAD | _UNSAFE_INLINE) or objects & _BROAD:
        result = result or "csp-implemented-with-unsafe-inline"
    if any(s.startswith(("http:", "ftp:")) for s in active):
        result = result or "csp-implemented-with-insecure-scheme"
    if "'unsafe-eval'" in script | style:
        result = result or "csp-implemented-with-unsafe-eval"
    if any(s.startswith(("http:", "ftp:")) for s in passive_sources):
        result = result or "csp-implemented-with-insecure-scheme-in-passive-content-only"
    if style & (_BROAD | _UNSAFE_INLINE):
        result = result or "csp-implemented-with-unsafe-inline-in-style-src-only"
    if default == {"'none'"}:
        result = result or "csp-implemented-with-no-unsafe-default-src-none"
    return result or "csp-implemented-with-no-unsafe", csp


def _hsts_result(value: str | None) -> str:
    if not value:
        return "hsts-not-implemented"
    if "," in value:
        return "hsts-header-invalid"
    max_age = None
    for parameter in (p.strip().lower() for p in value.split(";")):
        if parameter.startswith("max-age="):
            digits = parameter[8:128]
            try:
                max_age = int(digits)
            except ValueError:
                return "hsts-header-invalid"
    if max_age is None:
        return "hsts-header-invalid"
    return (
        "hsts-implemented-max-age-less-than-six-months"
        if max_age < HSTS_SIX_MONTHS_OBSERVATORY
        else "hsts-implemented-max-age-at-least-six-months"
    )


def _referrer_result(values: list[str]) -> str:
    if not values:
        return "referrer-policy-not-implemented"
    tokens = [t.strip().lower() for t in ", ".join(values).split(",")]
    valid = [t for t in tokens if t in _PRIVATE_REFERRER | _UNSAFE_REFERRER]
    policy = valid[-1] if valid else ""
    if policy in _PRIVATE_REFERRER:
        return "referrer-policy-private"
    if policy in _UNSAFE_REFERRER:
        return "referrer-policy-unsafe"
    return "referrer-policy-header-invalid"


def observatory_header_score(headers: http.client.HTTPMessage | Mapping[str, str]) -> HeaderScore:
    """Scores the response headers that the edge sets (CSP, HSTS, X-Content-Type-Options,
    X-Frame-Options/frame-ancestors, Referrer-Policy) with the Observatory's rules: start at 100,
    add each modifier; bonuses count only when the score without them is at least 90."""

    def all_values(name: str) -> list[str]:
        if isinstance(headers, http.client.HTTPMessage):
            return headers.get_all(name) or []
        return [v for k, v in headers.items() if k.lower() == name.lower()]

    csp_result, csp = _csp_result(all_values("Content-Security-Policy"))
    xcto = next(iter(all_values("X-Content-Type-Options")), None)
    xfo = next(iter(all_values("X-Frame-Options")), None)
    if csp is not None and csp.get("frame-ancestors"):
        xfo_result = "x-frame-options-implemented-via-csp"
    elif xfo is None:
        xfo_result = "x-frame-options-not-implemented"
    elif xfo.strip().lower() in ("deny", "sameorigin"):
        xfo_result = "x-frame-options-sameorigin-or-deny"
    elif xfo.strip().lower().startswith("allow-from"):
        xfo_result = "x-frame-options-allow-from-origin"
    else:
        xfo_result = "x-frame-options-header-invalid"
    results = {
        "content-security-policy": csp_result,
        "strict-transport-security": _hsts_result(next(iter(all_values("Strict-Transport-Security")), None)),
        "x-content-type-options": (
            "x-content-type-options-not-implemented"
            if xcto is None
            else "x-content-type-options-nosniff"
            if xcto.strip().lower() == "nosniff"
            else "x-content-type-options-header-invalid"
        ),
        "x-frame-options": xfo_result,
        "referrer-policy": _referrer_result(all_values("Referrer-Policy")),
    }
    modifiers = [OBSERVATORY_MODIFIERS[r] for r in results.values()]
    uncurved = 100 + sum(m for m in modifiers if m < 0)
    score = 100 + sum(modifiers) if uncurved >= MINIMUM_SCORE_FOR_EXTRA_CREDIT else uncurved
    score = max(score, 0)
    grade = next(g for threshold, g in _GRADES if min(score - score % 5, 100) >= threshold)
    return HeaderScore(score, grade, results)


def expected_security_headers(settings: EdgeSettings) -> dict[str, str]:
    """The exact header values the edge must send for these settings."""
    headers = settings.headers
    sts = f"max-age={headers.sts_seconds}"
    if headers.sts_include_subdomains:
        sts += "; includeSubDomains"
    if headers.sts_preload:
        sts += "; preload"
    return {
        "Strict-Transport-Security": sts,
        "Content-Security-Policy": headers.content_security_policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": headers.referrer_policy,
        "Permissions-Policy": headers.permissions_policy,
    }


def check_security_headers(response: Response, settings: EdgeSettings) -> HeaderScore:
    """Asserts that `response` carries exactly the configured security headers and no software
    banner, and returns its Observatory score (callers decide which grade they require)."""
    expected = expected_security_headers(settings)
    for name, value in expected.items():
        got = response.headers.get_all(name) or []
        assert got == [value], f"{name}: expected [{value!r}], got {got!r} (status {response.status})"
    for banner in ("Server", "X-Powered-By"):
        assert response.header(banner) is None, f"{banner} leaked: {response.header(banner)!r}"
    return observatory_header_score(response.headers)
