"""Advisory: read-only root filesystems, so a compromised process cannot change the image's
programs and all writable state is on the (encrypted) volumes or tmpfs."""

from __future__ import annotations

from collections.abc import Iterator

from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import CONTAINER, SERVICE
from analysis.values import is_unknown
from analysis.workloads import workload_of

NAME = "read-only-root-filesystem"


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.resource is not None
    w = workload_of(ctx.resource)
    if w is None:
        return
    if is_unknown(w.read_only):
        yield unknown_finding(
            w.resource, w.read_only_field, "that the root filesystem is read-only", "read-only"
        )
    elif w.read_only is not True:
        yield Finding(
            w.resource,
            w.read_only_field,
            "has a writable root filesystem",
            "set readOnly: true and give writable paths a volume or tmpfs",
            "read-only",
        )


RULE = Rule(
    name=NAME,
    description="Read-only root filesystems (advisory).",
    enforcement="advisory",
    scope="resource",
    resource_types=(CONTAINER, SERVICE),
    check=check,
)
