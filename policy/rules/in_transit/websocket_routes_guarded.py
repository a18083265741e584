"""Every Traefik router that serves WebSockets checks the Origin and the session before the upgrade.

Browsers send cookies with a cross-site WebSocket handshake and never enforce the same-origin
policy on it (cross-site WebSocket hijacking), and Traefik checks neither Origin nor session by
itself. So a WebSocket router must
- match the Origin header against an anchored allow-list in every alternative of its rule
  (`... && HeaderRegexp(`Origin`, `^(https://app\\.example\\.org)$`)`), and
- run a forwardAuth middleware (its own, in a chain, or on its entrypoint), so the session is
  verified before Traefik forwards the upgrade.

A router counts as serving WebSockets when any of these holds:
- its rule matches a path with a WebSocket segment (`/ws`, `/wss`, `/websocket(s)`, `/socket(s)`,
  `/socket.io`, `/sockjs`, `/cable`, `/signalr`, in any letter case),
- its rule matches the `Upgrade` header,
- its name or its service's name has such a word as a part (`events-ws`, `chat_websocket`),
- it routes to a workload labelled `encrypted-platform.websocket=true` (labels of the workload
  that defines the router, or of a workload a service URL names).
Routers with no backend (`noop@internal`, refusals) and https redirects are exempt.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from analysis.rule import Context, Finding, Rule
from analysis.traefik import Router, TraefikFacts, as_names, get, is_https_redirect_router, strip_provider
from analysis.values import is_unknown
from analysis.workloads import workloads_of

NAME = "websocket-routes-guarded"
WEBSOCKET_LABEL = "encrypted-platform.websocket"
WEBSOCKET_WORDS = frozenset(
    {"ws", "wss", "websocket", "websockets", "socket", "sockets", "socket.io", "sockjs", "cable", "signalr"}
)
NO_BACKEND_SERVICES = frozenset({"noop@internal"})
_PATH_MATCHER = re.compile(r"\b(?:Path|PathPrefix|PathRegexp)\(\s*`([^`]*)`", re.I)
_UPGRADE_MATCHER = re.compile(r"\bHeader(?:Regexp)?\(\s*`upgrade`", re.I)
_URL_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://([^/:@]+)", re.I)
# An allow-list names origins: no wildcard that lets any host through.
_WILDCARD = re.compile(r"(?<!\\)\.[*+]|\[\^")
_MATCH_ALL = frozenset({"", ".*", "^.*$", ".+", "^.+$", "^.*", ".*$"})


def _segments(path: str) -> set[str]:
    return {s.lower() for s in re.split(r"[/\\^$()|?*+\[\]]", path) if s}


def _name_words(name: str) -> set[str]:
    return {w.lower() for w in re.split(r"[-_@]", strip_provider(name)) if w}


_QUOTED = r'`[^`]*`|"(?:[^"\\]|\\.)*"'
_RULE_TOKEN = re.compile(rf"\s*(?:(&&|\|\||!|\(|\))|([A-Za-z]+)\s*\(((?:{_QUOTED}|[^()`\"])*)\))")


def _good_origin_matcher(name: str, arguments: str) -> bool:
    values = re.findall(r'`([^`]*)`|"((?:[^"\\]|\\.)*)"', arguments)
    texts = [a or b for a, b in values]
    if name.lower() not in ("header", "headerregexp") or len(texts) != 2 or texts[0].lower() != "origin":
        return False
    pattern = texts[1]
    if name.lower() == "header":
        return pattern.lower().startswith("https://")
    return (
        pattern.startswith("^")
        and pattern.endswith("$")
        and pattern not in _MATCH_ALL
        and not _WILDCARD.search(pattern)
    )


def origin_checked(rule: str) -> bool:
    """Whether every request the rule matches carries an Origin from an anchored allow-list:
    the rule parsed as Traefik's expression (&&, ||, !, parentheses); an Origin matcher counts
    on one side of && or on both sides of ||, never under !. A rule it cannot parse fails."""
    tokens: list[tuple[str, str, str]] = []
    i = 0
    while i < len(rule):
        m = _RULE_TOKEN.match(rule, i)
        if not m:
            if rule[i:].strip() == "":
                break
            return False
        tokens.append((m.group(1) or "", m.group(2) or "", m.group(3) or ""))
        i = m.end()
    position = 0

    def peek() -> str:
        return tokens[position][0] if position < len(tokens) else ""

    def primary() -> bool | None:
        nonlocal position
        if position >= len(tokens):
            return None
        op, name, arguments = tokens[position]
        position += 1
        if op == "!":
            inner = primary()
            return None if inner is None else False
        if op == "(":
            value = disjunction()
            if peek() != ")":
                return None
            position += 1
            return value
        if name:
            return _good_origin_matcher(name, arguments)
        return None

    def conjunction() -> bool | None:
        nonlocal position
        value = primary()
        while value is not None and peek() == "&&":
            position += 1
            right = primary()
            value = None if right is None else (value or right)
        return value

    def disjunction() -> bool | None:
        nonlocal position
        value = conjunction()
        while value is not None and peek() == "||":
            position += 1
            right = conjunction()
            value = None if right is None else (value and right)
        return value

    result = disjunction()
    return bool(result) and position == len(tokens)


def _middleware_kinds(facts: TraefikFacts, names: list[str], seen: set[str] | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    mws = facts.middlewares()
    kinds: set[str] = set()
    for ref in names:
        name = strip_provider(ref)
        if name in seen or name not in mws:
            continue
        seen.add(name)
        conf = mws[name][0]
        kinds.update(k for k in conf if isinstance(k, str))
        chain = get(conf, "chain", "middlewares")
        if chain is not None:
            kinds |= _middleware_kinds(facts, as_names(chain), seen)
    return kinds


def _backend_labels(ctx: Context, router: Router) -> list[Any]:
    """Labels of the workloads the router may reach: the one defining it by labels, and those a
    service URL names."""
    assert ctx.model is not None
    model = ctx.model
    out: list[Any] = []
    if router.source.form == "labels":
        w = next((w for w in model.fact(workloads_of) if w.resource is router.source.resource), None)
        if w is not None:
            out.append(w.labels)
    service = router.conf.get("service")
    if isinstance(service, str):
        for _src, tree in model.fact(TraefikFacts.of).dynamics:
            conf = get(tree, "http", "services", strip_provider(service))
            servers = get(conf, "loadbalancer", "servers") if isinstance(conf, dict) else None
            for server in servers if isinstance(servers, list) else []:
                url = get(server, "url") if isinstance(server, dict) else None
                m = _URL_HOST.match(url) if isinstance(url, str) else None
                if m:
                    out.extend(
                        w.labels for w in model.fact(workloads_of) if w.name.lower() == m.group(1).lower()
                    )
    return out


def websocket_reasons(ctx: Context, router: Router) -> list[str]:
    rule = str(router.conf.get("rule") or "")
    reasons = []
    for path in _PATH_MATCHER.findall(rule):
        if _segments(path) & WEBSOCKET_WORDS:
            reasons.append(f"its rule matches the WebSocket path {path}")
    if _UPGRADE_MATCHER.search(rule):
        reasons.append("its rule matches the Upgrade header")
    service = router.conf.get("service")
    names = [router.name] + ([service] if isinstance(service, str) else [])
    if any(_name_words(n) & WEBSOCKET_WORDS for n in names):
        reasons.append("its name or its service's name says WebSocket")
    for labels in _backend_labels(ctx, router):
        if not is_unknown(labels) and str((labels or {}).get(WEBSOCKET_LABEL, "")).strip().lower() == "true":
            reasons.append(f"its backend is labelled {WEBSOCKET_LABEL}=true")
            break
    return reasons


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.model is not None
    facts = ctx.model.fact(TraefikFacts.of)
    eps = facts.entrypoints()
    for router in facts.routers:
        if router.protocol != "http":
            continue
        service = router.conf.get("service")
        if isinstance(service, str) and service.lower() in NO_BACKEND_SERVICES:
            continue
        if not router.implicit and is_https_redirect_router(facts, router.conf):
            continue
        reasons = websocket_reasons(ctx, router)
        if not reasons:
            continue
        names = as_names(router.conf.get("middlewares"))
        for e in facts.router_entrypoints(router) or []:
            if e in eps:
                names += as_names(get(eps[e][0], "http", "middlewares"))
        missing = []
        if not origin_checked(str(router.conf.get("rule") or "")):
            missing.append(
                "an Origin allow-list in its rule (HeaderRegexp(`Origin`, `^(https://app\\.example\\.org)$`) "
                "in every alternative)"
            )
        if "forwardauth" not in _middleware_kinds(facts, names):
            missing.append("a forwardAuth middleware that verifies the session before the upgrade")
        if not missing:
            continue
        yield Finding(
            router.source.resource,
            router.source.field,
            f"HTTP router '{router.name}' ({router.source.form}) serves WebSockets "
            f"({'; '.join(reasons)}) without {' and without '.join(missing)}",
            "add `&& HeaderRegexp(`Origin`, `^(https://<your app origin>)$`)` to the rule and a "
            "forwardAuth middleware (address: the session check endpoint, authRequestHeaders: [Cookie, "
            "Authorization, Origin]) to the router; or route WebSockets through the edge component's "
            "websocket routes",
            f"router:{router.name}",
        )


RULE = Rule(
    name=NAME,
    description=(
        "WebSocket routes are guarded: every Traefik router that serves WebSockets requires an allowed "
        "Origin (HeaderRegexp on Origin) and a session check (forwardAuth) before the upgrade."
    ),
    enforcement="mandatory",
    scope="stack",
    check=check,
)
