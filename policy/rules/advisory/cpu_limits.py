"""Advisory: every container and service has a CPU limit, so one busy service cannot starve the
others (KICS "Cpus Not Limited")."""

from __future__ import annotations

from collections.abc import Iterator

from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import CONTAINER, SERVICE
from analysis.values import get_path, is_unknown

NAME = "cpu-limits"


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    if r.type == CONTAINER:
        field, value = "cpus", r.props.get("cpus")
        if value in (None, "", "0") and r.props.get("cpuShares") is None:
            value = None
    else:
        field, value = (
            "taskSpec.resources.limits.nanoCpus",
            get_path(r.props, "taskSpec", "resources", "limits", "nanoCpus"),
        )
    if is_unknown(value):
        yield unknown_finding(r, field, "the CPU limit", "cpus")
    elif not value:
        yield Finding(r, field, "sets no CPU limit", "set a CPU limit (cpus / nanoCpus)", "cpus")


RULE = Rule(
    name=NAME,
    description="CPU limits on every container and service (advisory).",
    enforcement="advisory",
    scope="resource",
    resource_types=(CONTAINER, SERVICE),
    check=check,
)
