"""What a service's environment and command may not say: a secret in plain text, or a switch that
turns TLS certificate or hostname verification off.

The verification switches are platform_rules.tls_verification, shared with the policy pack's
outbound-tls rule so that settings and pack always agree. The secret heuristic is the settings'
own: a variable whose name looks like a secret must point at a file (`<NAME>_FILE`) instead.
"""

from __future__ import annotations

import re

from platform_rules import tls_verification

from .grammar import grammar

ENV_NAME = grammar("environment variable name", r"[A-Za-z_][A-Za-z0-9_]{0,127}", "PGDATA")
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I)


def looks_like_secret(name: str, value: str) -> bool:
    """True when `name=value` looks like a secret written into the environment (a non-empty value
    under a secret-sounding name that is not a `_FILE` pointer)."""
    return bool(_SECRET_NAME.search(name)) and not name.upper().endswith("_FILE") and bool(value)


def verification_disabled(name: str, value: str) -> str | None:
    """Why the environment variable `name=value` turns TLS certificate or hostname verification
    off, or None."""
    return tls_verification.env_disabling_reason(name, value)


def insecure_argument(argument: str) -> str | None:
    """The same for a command-line argument given to the image's own entrypoint."""
    return tls_verification.argument_disabling_reason(argument, program=None)
