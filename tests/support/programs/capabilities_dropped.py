"""What rule capabilities-dropped reports: the baseline with one mistake on its app.

The rule is advisory; each program makes it mandatory through the pack configuration, as a
stack's configuration may."""

from __future__ import annotations

from . import violation
from .baseline import platform_with_app

RULE = "capabilities-dropped"


@violation(RULE, resource="app", exact=True, pack_config={RULE: "mandatory"})
def app_keeping_default_capabilities() -> None:
    """The app drops no capabilities: it keeps Docker's default set (CHOWN, SETUID, NET_RAW, ...)."""
    platform_with_app(capabilities=None)
