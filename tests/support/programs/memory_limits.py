"""What rule memory-limits reports: the baseline with one mistake on its app.

The rule is advisory; each program makes it mandatory through the pack configuration, as a
stack's configuration may."""

from __future__ import annotations

from . import violation
from .baseline import platform_with_app

RULE = "memory-limits"


@violation(RULE, resource="app", exact=True, pack_config={RULE: "mandatory"})
def app_without_a_memory_limit() -> None:
    """The app sets no memory limit: it can take the host's memory."""
    platform_with_app(memory=None)
