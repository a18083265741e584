"""Every route is TLS, whatever form the Traefik configuration takes.

- every HTTP router has TLS (router `tls`, or TLS on every entrypoint it listens on); a router
  without TLS is allowed only when it redirects to https (redirectScheme);
- every TCP router terminates TLS (passthrough is configurable); UDP routers cannot be TLS;
- an entrypoint-level redirection goes to https;
- every TLS option sets minVersion to at least the configured minimum (and no lower maxVersion);
- no insecureSkipVerify anywhere (servers transports, forwardAuth, providers);
- no `api.insecure` (dashboard on a plain entrypoint).
Configuration the pack cannot read (unknown at preview, a file from the operator's machine, a
directory or file something the pack cannot see may write, a Go template, a command that does
not provably start Traefik) where a Traefik workload reads it is a violation (fail closed). The
static configuration judged is the one source Traefik loads (analysis.traefik).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.traefik import (
    TraefikFacts,
    enabled,
    find_key,
    get,
    is_https_redirect_router,
)
from analysis.values import truthy

NAME = "tls-only-routes"
TLS_VERSIONS = ["VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13"]
ROUTER_TLS_FIX = (
    "enable TLS on the router (file: tls: {} / labels: traefik.http.routers.<name>.tls=true) and "
    "attach it to the TLS entrypoint only (entryPoints: [websecure]); the plain entrypoint may only "
    "redirect to https"
)


def router_has_tls(facts: TraefikFacts, conf: dict[str, Any], entrypoints: list[str] | None) -> bool:
    if "tls" in conf:
        return enabled(conf.get("tls"))
    if not entrypoints:
        return False
    eps = facts.entrypoints()
    return all(name in eps and enabled(get(eps[name][0], "http", "tls")) for name in entrypoints)


def _version_index(value: Any) -> int | None:
    text = str(value).strip()
    for i, v in enumerate(TLS_VERSIONS):
        if v.lower() == text.lower():
            return i
    return None


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.model is not None
    facts = ctx.model.fact(TraefikFacts.of)
    minimum = _version_index(ctx.config["minimumTlsVersion"]) or 2
    for u in facts.unverifiable:
        if u.unseen:
            yield Finding(
                u.resource,
                u.field,
                f"the pack cannot see {u.why}, so the Traefik configuration there cannot be verified "
                "(fail closed)",
                "give Traefik its configuration as plain values the pack reads: a known upload, or a "
                "file a Command writes from its stdin or a here-document onto a volume of this stack "
                "that only that Command writes; or add a reviewed exception",
                "traefik:unseen",
            )
            continue
        yield unknown_finding(
            u.resource, u.field, f"the Traefik configuration in it ({u.why})", "traefik:unknown"
        )

    for router in facts.routers:
        r = router.source.resource
        where = f"{router.source.field}"
        label = f"{router.protocol.upper()} router '{router.name}'"
        entrypoints = facts.router_entrypoints(router)
        eps_text = ", ".join(entrypoints) if entrypoints else "all entrypoints (none listed)"
        if router.protocol == "udp":
            yield Finding(
                r,
                where,
                f"{label} ({router.source.form}) routes UDP, which cannot be TLS",
                "remove the UDP router; expose only HTTPS",
                f"router:{router.name}",
            )
            continue
        if router.protocol == "tcp":
            tls = router.conf.get("tls")
            if not enabled(tls):
                yield Finding(
                    r,
                    where,
                    f"{label} ({router.source.form}) on {eps_text} forwards plain TCP without TLS",
                    "set tls on the TCP router (Traefik terminates it)",
                    f"router:{router.name}",
                )
            elif truthy(get(tls, "passthrough")) is True and not ctx.config["allowTlsPassthrough"]:
                yield Finding(
                    r,
                    where,
                    f"{label} passes TLS through to the backend, so the edge does not enforce "
                    "the TLS version and options",
                    "terminate TLS at the edge (remove passthrough)",
                    f"router:{router.name}",
                )
            continue
        if router.implicit:
            yield Finding(
                r,
                where,
                f"has traefik labels but defines no router, so the provider creates an implicit "
                f"router '{router.name}' on {eps_text} without TLS",
                ROUTER_TLS_FIX,
                f"router:{router.name}",
            )
            continue
        if router_has_tls(facts, router.conf, entrypoints):
            continue
        if is_https_redirect_router(facts, router.conf):
            continue
        yield Finding(
            r,
            where,
            f"{label} ({router.source.form}) on {eps_text} serves plain HTTP",
            ROUTER_TLS_FIX,
            f"router:{router.name}",
        )

    for name, (conf, src) in facts.entrypoints().items():
        redirect = get(conf, "http", "redirections", "entrypoint")
        if isinstance(redirect, dict):
            scheme = get(redirect, "scheme")
            if scheme is not None and str(scheme).lower() != "https" and src is not None:
                yield Finding(
                    src.resource,
                    src.field,
                    f"entrypoint '{name}' redirects to scheme '{scheme}'",
                    "redirect to https (scheme: https)",
                    f"entrypoint:{name}",
                )

    for name, conf, src in facts.tls_options():
        lo = conf.get("minversion")
        hi = conf.get("maxversion")
        if lo is None:
            yield Finding(
                src.resource,
                src.field,
                f"TLS option '{name}' ({src.form}) sets no minVersion",
                f"set minVersion: {TLS_VERSIONS[minimum]} (or VersionTLS13)",
                f"tls-option:{name}",
            )
        elif _version_index(lo) is None or (_version_index(lo) or 0) < minimum:
            yield Finding(
                src.resource,
                src.field,
                f"TLS option '{name}' allows {lo}",
                f"set minVersion: {TLS_VERSIONS[minimum]} or higher",
                f"tls-option:{name}",
            )
        if hi is not None and (_version_index(hi) is None or (_version_index(hi) or 0) < minimum):
            yield Finding(
                src.resource,
                src.field,
                f"TLS option '{name}' caps the version at {hi}",
                "remove maxVersion or set it to VersionTLS13",
                f"tls-option:{name}",
            )

    for src, tree in facts.all_trees():
        for path, value in find_key(tree, "insecureskipverify"):
            if truthy(value) is True:
                yield Finding(
                    src.resource,
                    src.field,
                    f"{'.'.join(path)} ({src.form}) turns off certificate verification of the backend",
                    "remove insecureSkipVerify; give the backend a certificate from a CA in rootCAs",
                    "insecureSkipVerify",
                )
    for static in facts.statics:
        if truthy(get(static.tree, "api", "insecure")) is True:
            src = static.source_of("api", "insecure")
            if src is not None:
                yield Finding(
                    src.resource,
                    src.field,
                    "api.insecure serves the Traefik API and dashboard on the plain 'traefik' entrypoint",
                    "remove api.insecure; route the dashboard through a TLS router with authentication",
                    "api.insecure",
                )


RULE = Rule(
    name=NAME,
    description=(
        "TLS-only routes: every Traefik HTTP/TCP router terminates TLS (plain entrypoints only redirect to "
        "https), TLS options require at least TLS 1.2, and nothing skips certificate verification."
    ),
    enforcement="mandatory",
    scope="stack",
    check=check,
    config={
        "minimumTlsVersion": {
            "type": "string",
            "enum": ["VersionTLS12", "VersionTLS13"],
            "description": "Lowest TLS version a TLS option may allow.",
            "default": "VersionTLS12",
        },
        "allowTlsPassthrough": {
            "type": "boolean",
            "description": "Allow TCP routers that pass TLS through to the backend (the edge then enforces nothing).",
            "default": False,
        },
    },
)
