"""What rule read-only-root-filesystem reports: the baseline with one mistake on its app.

The rule is advisory; each program makes it mandatory through the pack configuration, as a
stack's configuration may."""

from __future__ import annotations

from . import violation
from .baseline import platform_with_app

RULE = "read-only-root-filesystem"


@violation(RULE, resource="app", exact=True, pack_config={RULE: "mandatory"})
def app_with_a_writable_root_filesystem() -> None:
    """The app's root filesystem is writable: a compromised process can change its own code."""
    platform_with_app(read_only=False)
