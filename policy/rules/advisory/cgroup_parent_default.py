"""Advisory: containers stay in the cgroup Docker gives them (KICS "Cgroup Not Default"): a
custom cgroupParent places the container under limits (or the absence of limits) that the stack
does not declare."""

from __future__ import annotations

from collections.abc import Iterator

from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import CONTAINER
from analysis.values import is_unknown

NAME = "cgroup-parent-default"


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    value = r.props.get("cgroupParent")
    if is_unknown(value):
        yield unknown_finding(r, "cgroupParent", "the container's cgroup", "cgroup-parent")
    elif isinstance(value, str) and value.strip():
        yield Finding(
            r,
            "cgroupParent",
            f"runs under the cgroup {value}, whose limits the stack does not declare",
            "remove cgroupParent; set memory, CPU and PID limits on the container itself",
            "cgroup-parent",
        )


RULE = Rule(
    name=NAME,
    description="Default cgroup parent for every container (advisory).",
    enforcement="advisory",
    scope="resource",
    resource_types=(CONTAINER,),
    check=check,
)
