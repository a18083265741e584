"""What rule pid-limits reports: the baseline with one mistake on its app.

The rule is advisory; each program makes it mandatory through the pack configuration, as a
stack's configuration may."""

from __future__ import annotations

from . import violation
from .baseline import platform_with_app

RULE = "pid-limits"


@violation(RULE, resource="app", exact=True, pack_config={RULE: "mandatory"})
def app_without_a_pid_limit() -> None:
    """No `docker update --pids-limit` command follows the app: a fork bomb can exhaust the host."""
    platform_with_app(app_pid_limit=False)
