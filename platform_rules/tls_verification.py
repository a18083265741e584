"""Switches that turn TLS certificate or hostname verification off, in environment variables and
command-line arguments.

One table for both readers: the settings refuse such a value in a service's `env` or `command`
(with a message naming the setting), the pack's outbound-tls rule rejects it in any container or
Swarm service. Names are compared in UPPER_SNAKE form, so `sslVerify`, `ssl-verify` and
`SSL_VERIFY` are one name.

Two senses of switch exist: "verify" names (SSL_VERIFY, VERIFY_SSL, CHECK_HOSTNAME...) turn
verification off with a false value; "insecure" names (INSECURE_SKIP_VERIFY, GIT_SSL_NO_VERIFY,
OTEL_EXPORTER_OTLP_INSECURE...) turn it off with a true value. A few tools have their own
spelling (Node.js, Python's ssl module, libpq's sslmode, Python's ssl.CERT_NONE, Go's GODEBUG).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FALSE_WORDS = frozenset({"false", "0", "no", "off", "n", "f", "none", "disable", "disabled"})
TRUE_WORDS = frozenset({"true", "1", "yes", "on", "y", "t", "enable", "enabled"})

_TLS_NOUN = r"(SSL|TLS|HTTPS|CERT|CERTS|CERTIFICATE|CERTIFICATES|PEER|HOST|HOSTNAME)"
_CHECK_VERB = r"(VERIFY|VERIFICATION|VALIDATE|VALIDATION|CHECK)"


@dataclass(frozen=True)
class Switch:
    """A variable name pattern and the values with which it turns verification off (None: any
    value at all, including the empty one)."""

    pattern: re.Pattern[str]
    disabling: frozenset[str] | None
    why: str


def _switch(pattern: str, disabling: frozenset[str] | set[str] | None, why: str) -> Switch:
    return Switch(re.compile(pattern), frozenset(disabling) if disabling is not None else None, why)


# Order matters only for the message: the first matching switch explains the finding.
SWITCHES: tuple[Switch, ...] = (
    _switch(r"^NODE_TLS_REJECT_UNAUTHORIZED$", {"0"}, "disables certificate verification in Node.js"),
    _switch(r"^PYTHONHTTPSVERIFY$", {"0"}, "disables certificate verification in Python's urllib"),
    # git checks only whether the variable is set (http.c: getenv), so any value counts.
    _switch(r"^GIT_SSL_NO_VERIFY$", None, "disables certificate verification in git (any value)"),
    _switch(
        r"(^|_)(PG)?SSL_?MODE$",
        {"disable", "allow", "prefer"},
        "lets the database client connect without TLS or without verifying the server",
    ),
    _switch(
        r"(^|_)CERT_?REQS$",
        {"none", "cert_none", "0", "optional", "cert_optional"},
        "does not require a verified server certificate (ssl.CERT_NONE / CERT_OPTIONAL)",
    ),
    # "insecure" sense: a true value turns verification (or TLS itself) off.
    _switch(
        r"(^|_)(INSECURE|NO_?VERIFY|SKIP_?(TLS|SSL)|SKIP_?" + _TLS_NOUN + r"?_?" + _CHECK_VERB + r"|"
        r"DISABLE_?" + _TLS_NOUN + r"_?" + _CHECK_VERB + r"?|ALLOW_?INSECURE|ACCEPT_?ANY_?CERTS?|"
        r"TRUST_?ALL(_?(CERTS?|CERTIFICATES?))?|IGNORE_?" + _TLS_NOUN + r"_?ERRORS?)(_|$)",
        TRUE_WORDS,
        "turns certificate or hostname verification (or TLS) off",
    ),
    # "verify" sense: a false value turns verification off.
    _switch(
        r"(VERIFY|" + _TLS_NOUN + r"_?(VALIDATION|VALIDATE|CHECK)|(CHECK|VALIDATE)_?" + _TLS_NOUN + r")",
        FALSE_WORDS,
        "turns certificate or hostname verification off",
    ),
)
# An empty trust-store variable makes Python requests (and curl) skip verification.
EMPTY_DISABLES = frozenset({"CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"})
# Go: x509ignoreCN=1 brings back Common Name matching (no SAN check).
GODEBUG_WEAKENING = ("x509ignorecn=1",)

# Command-line switches (curl, wget, Go tools, gRPC clients, LiteLLM, git, pip, mongo shells...).
INSECURE_FLAGS = frozenset(
    {
        "--insecure",
        "--no-check-certificate",
        "--insecure-skip-tls-verify",
        "--insecure-skip-verify",
        "--skip-tls-verify",
        "--tls-skip-verify",
        "--ssl-no-verify",
        "--no-verify-ssl",
        "--tls-insecure",
        "--insecure-tls",
        "--disable-ssl-verification",
        "--no-ssl-verify",
        "--trust-all-certs",
        "--ignore-certificate-errors",
        "--tlsallowinvalidcertificates",
        "--tlsallowinvalidhostnames",
        "--tlsinsecure",
        "--trusted-host",
    }
)
FLAGS_OFF_WITH_FALSE = frozenset(
    {
        "--tls-verify",
        "--tlsverify",
        "--ssl-verify",
        "--ssl_verify",
        "--verify-ssl",
        "--verify",
        "--check-certificate",
        "--ssl",
    }
)
# `-k` means "insecure" for curl; for a program the reader cannot name it is taken as such too.
SHORT_INSECURE = {"-k": frozenset({"curl"})}


def normalize_name(name: str) -> str:
    """camelCase / kebab-case / dotted -> UPPER_SNAKE."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper()


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def env_disabling_reason(name: str, value: object) -> str | None:
    """Why `name=value` turns TLS certificate or hostname verification off, or None."""
    norm = normalize_name(name)
    text = _text(value)
    if norm in EMPTY_DISABLES:
        return f"an empty {norm} disables certificate verification" if text == "" else None
    if norm == "GODEBUG":
        weak = [w for w in GODEBUG_WEAKENING if w in text.replace(" ", "")]
        return f"GODEBUG {weak[0]} weakens hostname verification in Go" if weak else None
    for switch in SWITCHES:
        if switch.pattern.search(norm):
            if switch.disabling is None or text in switch.disabling:
                return f"{name}={value} {switch.why}"
            return None
    return None


def is_verification_setting(name: str) -> bool:
    """True for a name that can turn verification off (so an unknown value must fail closed)."""
    norm = normalize_name(name)
    return norm in EMPTY_DISABLES or norm == "GODEBUG" or any(s.pattern.search(norm) for s in SWITCHES)


def argument_disabling_reason(argument: str, program: str | None = None) -> str | None:
    """Why a command-line argument turns verification off, or None. `program` is the basename of
    the program the argument is given to, None when unknown (an image's own entrypoint)."""
    arg = argument.strip()
    flag, eq, value = arg.partition("=")
    lowered = flag.lower()
    if lowered in INSECURE_FLAGS:
        return f"{arg!r} turns certificate or hostname verification off"
    if lowered in FLAGS_OFF_WITH_FALSE and eq and value.strip().lower() in FALSE_WORDS:
        return f"{arg!r} turns certificate or hostname verification off"
    programs = SHORT_INSECURE.get(arg)
    if programs is not None and (program is None or program in programs):
        return f"{arg!r} turns certificate verification off"
    return None
