"""Security headers on every HTTP router.

The headers middlewares a router runs (its own, chains expanded, plus the middlewares of the
entrypoints it listens on) must together send:
- Strict-Transport-Security with max-age >= minHstsSeconds (one year) and includeSubDomains;
- a Content-Security-Policy with frame-ancestors;
- X-Content-Type-Options: nosniff;
- a Referrer-Policy (not unsafe-url).
Either Traefik's headers options (stsSeconds, contentSecurityPolicy, ...) or
customResponseHeaders count. Routers that only redirect to https are exempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from analysis.rule import Context, Finding, Rule
from analysis.traefik import TraefikFacts, as_names, get, is_https_redirect_router, strip_provider
from analysis.values import to_int, truthy

NAME = "security-headers"


def _expand(
    facts: TraefikFacts, names: list[str], seen: set[str] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """(headers configs, undefined middleware names) of middlewares, chains expanded."""
    seen = seen if seen is not None else set()
    mws = facts.middlewares()
    headers: list[dict[str, Any]] = []
    undefined: list[str] = []
    for ref in names:
        name = strip_provider(ref)
        if name in seen:
            continue
        seen.add(name)
        if name not in mws:
            undefined.append(ref)
            continue
        conf = mws[name][0]
        h = get(conf, "headers")
        if isinstance(h, dict):
            headers.append(h)
        chain = get(conf, "chain", "middlewares")
        if chain is not None:
            more, missing = _expand(facts, as_names(chain), seen)
            headers.extend(more)
            undefined.extend(missing)
    return headers, undefined


def _custom(headers: list[dict[str, Any]], name: str) -> list[str]:
    out = []
    for h in headers:
        custom = get(h, "customresponseheaders")
        if isinstance(custom, dict):
            for k, v in custom.items():
                if k.lower() == name and isinstance(v, str):
                    out.append(v)
    return out


def missing_headers(headers: list[dict[str, Any]], min_hsts: int) -> list[str]:
    missing: list[str] = []
    # HSTS
    hsts_ok = False
    for h in headers:
        seconds = to_int(get(h, "stsseconds"))
        if (
            isinstance(seconds, int)
            and seconds >= min_hsts
            and truthy(get(h, "stsincludesubdomains")) is True
        ):
            hsts_ok = True
    for value in _custom(headers, "strict-transport-security"):
        m = re.search(r"max-age\s*=\s*(\d+)", value, re.I)
        if m and int(m.group(1)) >= min_hsts and re.search(r"includesubdomains", value, re.I):
            hsts_ok = True
    if not hsts_ok:
        missing.append(f"Strict-Transport-Security (stsSeconds >= {min_hsts} and stsIncludeSubdomains: true)")
    # CSP with frame-ancestors
    csps = [str(get(h, "contentsecuritypolicy")) for h in headers if get(h, "contentsecuritypolicy")]
    csps += _custom(headers, "content-security-policy")
    if not any("frame-ancestors" in c.lower() for c in csps):
        missing.append("Content-Security-Policy with frame-ancestors (contentSecurityPolicy)")
    # nosniff
    nosniff = any(truthy(get(h, "contenttypenosniff")) is True for h in headers) or any(
        v.strip().lower() == "nosniff" for v in _custom(headers, "x-content-type-options")
    )
    if not nosniff:
        missing.append("X-Content-Type-Options: nosniff (contentTypeNosniff: true)")
    # Referrer-Policy
    policies = [str(get(h, "referrerpolicy")) for h in headers if get(h, "referrerpolicy")]
    policies += _custom(headers, "referrer-policy")
    if not any(p.strip() and p.strip().lower() != "unsafe-url" for p in policies):
        missing.append("Referrer-Policy (referrerPolicy, e.g. strict-origin-when-cross-origin)")
    return missing


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.model is not None
    facts = ctx.model.fact(TraefikFacts.of)
    min_hsts = int(ctx.config["minHstsSeconds"])
    eps = facts.entrypoints()
    for router in facts.routers:
        if router.protocol != "http" or router.implicit:
            continue
        if is_https_redirect_router(facts, router.conf):
            continue
        names = as_names(router.conf.get("middlewares"))
        entrypoints = facts.router_entrypoints(router) or []
        ep_lists = [as_names(get(eps[e][0], "http", "middlewares")) for e in entrypoints if e in eps]
        if ep_lists:
            common = set(ep_lists[0]).intersection(*map(set, ep_lists[1:]))
            names += [n for n in ep_lists[0] if n in common]
        headers, undefined = _expand(facts, names)
        missing = missing_headers(headers, min_hsts)
        if not missing:
            continue
        note = (
            f" (middlewares not defined in any configuration the pack sees: {', '.join(undefined)})"
            if undefined
            else ""
        )
        yield Finding(
            router.source.resource,
            router.source.field,
            f"HTTP router '{router.name}' ({router.source.form}) does not send {'; '.join(missing)}{note}",
            "attach a headers middleware that sets them (stsSeconds: 31536000, stsIncludeSubdomains: true, "
            "contentSecurityPolicy: \"frame-ancestors 'self'\", contentTypeNosniff: true, referrerPolicy: "
            "strict-origin-when-cross-origin) to the router or to its entrypoint (http.middlewares)",
            f"router:{router.name}",
        )


RULE = Rule(
    name=NAME,
    description=(
        "Security headers on every HTTP router: HSTS (>= 1 year, includeSubDomains), a CSP with "
        "frame-ancestors, nosniff, and a Referrer-Policy."
    ),
    enforcement="mandatory",
    scope="stack",
    check=check,
    config={
        "minHstsSeconds": {
            "type": "integer",
            "minimum": 0,
            "description": "Minimum Strict-Transport-Security max-age.",
            "default": 31536000,
        }
    },
)
