"""What rule cgroup-parent-default reports: the baseline with one mistake on its app.

The rule is advisory; each program makes it mandatory through the pack configuration, as a
stack's configuration may."""

from __future__ import annotations

from . import violation
from .baseline import platform_with_app

RULE = "cgroup-parent-default"


@violation(RULE, resource="app", exact=True, pack_config={RULE: "mandatory"})
def app_under_its_own_cgroup_parent() -> None:
    """The app runs under /unlimited, a cgroup whose limits the stack does not declare."""
    platform_with_app(cgroup_parent="/unlimited")
