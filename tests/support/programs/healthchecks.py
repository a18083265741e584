"""What rule healthchecks reports: the baseline with one mistake on its app.

The rule is advisory; each program makes it mandatory through the pack configuration, as a
stack's configuration may."""

from __future__ import annotations

from . import violation
from .baseline import platform_with_app

RULE = "healthchecks"


@violation(RULE, resource="app", exact=True, pack_config={RULE: "mandatory"})
def app_without_a_healthcheck() -> None:
    """The app declares no healthcheck: nothing tells Docker it stopped serving."""
    platform_with_app(healthcheck=None)
