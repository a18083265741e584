"""Outbound connections use TLS, and verify it.

Settings are environment variables and command-line flags of containers and services,
structured files uploaded into them (YAML/JSON/TOML), and the backends Traefik forwards to.
- a URL that points outside the stack (not a container, service, network alias or loopback of
  it) uses a TLS scheme (https, wss, rediss, amqps, ldaps, ...); a database URL to the outside
  requires TLS (sslmode=require/verify-*, ssl=true, tls=true);
- nothing disables certificate or hostname verification (NODE_TLS_REJECT_UNAUTHORIZED=0,
  PYTHONHTTPSVERIFY=0, *_SSL_VERIFY=false, *_INSECURE_SKIP_VERIFY=true, an empty CURL_CA_BUNDLE
  or REQUESTS_CA_BUNDLE, GIT_SSL_NO_VERIFY, curl -k, wget --no-check-certificate, ...).
An unknown value fails closed only where it can matter: a URL-like or verification setting.
Proxy settings (HTTP_PROXY=http://proxy:3128) are exempt: the proxy tunnels TLS.
"""

from __future__ import annotations

import ipaddress
import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import StackModel
from analysis.traefik import TraefikFacts, get
from analysis.values import is_unknown, iter_strings
from analysis.workloads import workloads_of

from platform_rules import tls_verification

NAME = "outbound-tls"
PLAIN_TO_TLS = {
    "http": "https",
    "ws": "wss",
    "ftp": "ftps",
    "ldap": "ldaps",
    "redis": "rediss",
    "amqp": "amqps",
    "mqtt": "mqtts",
    "nats": "tls://",
    "telnet": "ssh",
    "imap": "imaps",
    "pop3": "pop3s",
    "smtp": "smtps",
}
DATABASE_SCHEMES = {
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "mongodb",
    "mongodb+srv",
    "mssql",
    "sqlserver",
}
SECURE_DB_PARAMS = {
    "sslmode": {"require", "verify-ca", "verify-full"},
    "ssl-mode": {"required", "verify_ca", "verify_identity"},
    "ssl": {"true", "1"},
    "tls": {"true", "1"},
    "encrypt": {"true", "strict"},
}
URLISH_NAME = re.compile(
    r"(URL|URI|ENDPOINT|HOST|HOSTS|ADDR|ADDRESS|SERVER|SERVERS|BASE|DSN|ORIGIN|WEBHOOK)S?$"
)
PROXY_NAME = re.compile(r"^(HTTPS?|FTP|ALL|NO|WS|WSS)_PROXY$", re.I)

# Verification switches: one table with the settings (platform_rules.tls_verification, stdlib
# only; policy/__main__.py puts the project root on the path for it).
FALSE_VALUES = tls_verification.FALSE_WORDS


def normalize_name(name: str) -> str:
    """camelCase / kebab-case / dotted -> UPPER_SNAKE (so one pattern table serves all)."""
    return tls_verification.normalize_name(name)


def disables_verification(name: str, value: Any) -> bool:
    if normalize_name(name).startswith("TRAEFIK_"):
        return False  # rule tls-only-routes owns Traefik settings
    return tls_verification.env_disabling_reason(name, value) is not None


def is_verification_name(name: str) -> bool:
    return tls_verification.is_verification_setting(name)


def internal_names(model: StackModel, extra: list[str]) -> set[str]:
    names = {"localhost", *[e.lower() for e in extra]}
    for w in model.fact(workloads_of):
        names.add(w.resource.name.lower())
        if isinstance(w.docker_name, str):
            names.add(w.docker_name.lower())
        hostname = w.resource.props.get("hostname")
        if isinstance(hostname, str):
            names.add(hostname.lower())
        for net in w.resource.props.get("networksAdvanced") or []:
            if isinstance(net, dict):
                names.update(a.lower() for a in net.get("aliases") or [] if isinstance(a, str))
        spec_nets = get(w.resource.props, "taskSpec", "networksAdvanceds")
        for net in spec_nets if isinstance(spec_nets, list) else []:
            if isinstance(net, dict):
                names.update(a.lower() for a in net.get("aliases") or [] if isinstance(a, str))
    return names


def url_problem(value: str, internal: set[str]) -> str | None:
    text = value.strip()
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", text)
    if not m:
        return None
    scheme = m.group(1).lower()
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if not host or host in internal:
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    shown = f"{scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    if scheme in PLAIN_TO_TLS:
        return f"points outside the stack over plain {scheme} ({shown})"
    if scheme in DATABASE_SCHEMES:
        query = {k.lower(): [v.lower() for v in vs] for k, vs in parse_qs(parts.query).items()}
        for key, secure in SECURE_DB_PARAMS.items():
            if key in query:
                if any(v in secure for v in query[key]):
                    return None
                return f"connects to a database outside the stack with {key}={query[key][0]} ({shown})"
        return f"connects to a database outside the stack without requiring TLS ({shown})"
    return None


def _structured(content: str, path: str) -> Any:
    for loader in (json.loads, yaml.safe_load, tomllib.loads):
        try:
            data = loader(content)
        except Exception:  # noqa: BLE001, S112 - try the next format
            continue
        if isinstance(data, dict | list):
            return data
    return None


def _fix_for(scheme_problem: str) -> str:
    return "use the TLS scheme (https://, wss://, rediss://, ...) or, for a database, require TLS (sslmode=verify-full)"


def check(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    assert model is not None
    internal = internal_names(model, list(ctx.config["internalHosts"]))
    for w in model.fact(workloads_of):
        r = w.resource
        if is_unknown(w.env):
            yield unknown_finding(
                r, w.env_field, "the environment (URLs, TLS verification settings)", "env:unknown"
            )
        else:
            for name, value in (w.env or {}).items():
                field = f"{w.env_field}[{name}]"
                if is_unknown(value):
                    if is_verification_name(name) or URLISH_NAME.search(normalize_name(name)):
                        yield unknown_finding(r, field, "the URL or TLS setting", f"env:{name}")
                    continue
                if not isinstance(value, str):
                    continue
                if disables_verification(name, value):
                    yield Finding(
                        r,
                        field,
                        f"{name}={value!s} turns off TLS certificate or hostname verification",
                        "remove it; to trust a private CA, add its certificate to the trust store (e.g. "
                        "SSL_CERT_FILE / NODE_EXTRA_CA_CERTS pointing at a CA bundle)",
                        f"env:{name}",
                    )
                    continue
                if PROXY_NAME.match(name) or normalize_name(name).startswith("TRAEFIK_"):
                    continue
                problem = url_problem(value, internal)
                if problem:
                    yield Finding(r, field, problem, _fix_for(problem), f"env:{name}")
        argv = [a for a in w.argv if isinstance(a, str)]
        # argv[0] names the program only when the workload sets its entrypoint; arguments to the
        # image's own entrypoint have no known program (then `-k` counts as insecure too).
        program = argv[0].rsplit("/", 1)[-1] if argv and not argv[0].startswith("-") else None
        for i, arg in enumerate(argv):
            if tls_verification.argument_disabling_reason(arg, program) is not None:
                yield Finding(
                    r,
                    f"{w.argv_field}[{i}]",
                    f"'{arg}' turns off TLS certificate verification",
                    "remove the flag; trust a private CA through the CA bundle instead",
                    f"flag:{arg}",
                )
        for up in w.uploads:
            if not isinstance(up.content, str) or not isinstance(up.path, str):
                continue
            data = _structured(up.content, up.path)
            if data is None or _looks_like_traefik(data):
                continue
            for path, value in _leaves(data):
                key = str(path[-1]) if path else ""
                dotted = ".".join(map(str, path))
                if key and disables_verification(key, value):
                    yield Finding(
                        r,
                        f"{up.field} ({up.path}: {dotted})",
                        f"{key}: {value} turns off TLS verification",
                        "remove it; trust a private CA through the CA bundle instead",
                        f"file:{up.path}:{dotted}",
                    )
                elif isinstance(value, str):
                    problem = url_problem(value, internal)
                    if problem:
                        yield Finding(
                            r,
                            f"{up.field} ({up.path}: {dotted})",
                            problem,
                            _fix_for(problem),
                            f"file:{up.path}:{dotted}",
                        )
    # Backends Traefik forwards to (service URLs, forwardAuth) are outbound connections too.
    for src, tree in model.fact(TraefikFacts.of).dynamics:
        for path, value in iter_strings(tree):
            last = str(path[-1]) if path else ""
            if last in ("url", "address") and isinstance(value, str):
                problem = url_problem(value, internal)
                if problem:
                    yield Finding(
                        src.resource,
                        src.field,
                        f"Traefik {'.'.join(map(str, path))} {problem}",
                        _fix_for(problem),
                        f"traefik:{'.'.join(map(str, path))}",
                    )


def _looks_like_traefik(data: Any) -> bool:
    return isinstance(data, dict) and any(
        str(k).lower() in ("http", "tcp", "entrypoints", "providers") for k in data
    )


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _leaves(v, (*path, i))
    else:
        yield path, data


RULE = Rule(
    name=NAME,
    description=(
        "Outbound TLS: URLs that leave the stack use TLS, and no setting turns off certificate or hostname "
        "verification."
    ),
    enforcement="mandatory",
    scope="stack",
    check=check,
    config={
        "internalHosts": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Host names that are inside the stack besides its containers, services and aliases.",
            "default": [],
        }
    },
)
