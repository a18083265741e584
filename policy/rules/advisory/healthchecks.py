"""Advisory: every container and service has a healthcheck, so Docker (and the edge) can tell a
broken service from a working one."""

from __future__ import annotations

from collections.abc import Iterator

from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import CONTAINER, SERVICE
from analysis.values import is_unknown
from analysis.workloads import workload_of

NAME = "healthchecks"


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.resource is not None
    w = workload_of(ctx.resource)
    if w is None:
        return
    hc = w.healthcheck
    if is_unknown(hc):
        yield unknown_finding(w.resource, w.healthcheck_field, "the healthcheck", "healthcheck")
        return
    tests = hc.get("tests") if isinstance(hc, dict) else None
    if not tests or (isinstance(tests, list) and tests and tests[0] == "NONE"):
        yield Finding(
            w.resource,
            w.healthcheck_field,
            "has no healthcheck",
            'add a healthcheck (tests: ["CMD", ...], interval, retries)',
            "healthcheck",
        )


RULE = Rule(
    name=NAME,
    description="Healthchecks on every container and service (advisory).",
    enforcement="advisory",
    scope="resource",
    resource_types=(CONTAINER, SERVICE),
    check=check,
)
