"""Advisory: every container and service has a memory limit, so one runaway service cannot take
the host (and the other services) down."""

from __future__ import annotations

from collections.abc import Iterator

from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import CONTAINER, SERVICE
from analysis.values import is_unknown, to_int
from analysis.workloads import workload_of

NAME = "memory-limits"


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.resource is not None
    w = workload_of(ctx.resource)
    if w is None:
        return
    memory = to_int(w.memory)
    if is_unknown(memory):
        yield unknown_finding(w.resource, w.memory_field, "the memory limit", "memory")
    elif not memory or memory <= 0:
        yield Finding(w.resource, w.memory_field, "sets no memory limit", "set a memory limit", "memory")


RULE = Rule(
    name=NAME,
    description="Memory limits on every container and service (advisory).",
    enforcement="advisory",
    scope="resource",
    resource_types=(CONTAINER, SERVICE),
    check=check,
)
