"""Bind mounts keep private mount propagation.

With `shared`/`rshared` propagation a mount made inside the container appears on the host (and
in every container sharing the mount), and with `slave`/`rslave` the container sees whatever the
host mounts later: either way the container and the host's mount table are no longer separate,
which is how a container could mount over a LUKS mount point or see a plain filesystem appear in
its data directory. KICS rates this HIGH (volume mounted in multiple containers); mandatory here.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import CONTAINER, SERVICE
from analysis.values import as_list, get_path, is_unknown

NAME = "mount-propagation-private"
SHARING = frozenset({"shared", "rshared", "slave", "rslave"})


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    if r.type == CONTAINER:
        at, mounts = "mounts", r.props.get("mounts")
    else:
        at, mounts = "taskSpec.containerSpec.mounts", get_path(r.props, "taskSpec", "containerSpec", "mounts")
    if is_unknown(mounts):
        yield unknown_finding(r, at, "the mounts' propagation", "propagation")
        return
    for i, m in enumerate(as_list(mounts)):
        mode = get_path(m, "bindOptions", "propagation")
        field = f"{at}[{i}].bindOptions.propagation"
        if is_unknown(mode):
            yield unknown_finding(r, field, "the mount's propagation", "propagation")
        elif isinstance(mode, str) and mode.strip().lower() in SHARING:
            yield Finding(
                r,
                field,
                f"propagates mounts ({mode}) between the container and the host",
                "remove bindOptions.propagation (the default, rprivate, keeps mount tables apart)",
                f"propagation:{mode}",
            )


RULE = Rule(
    name=NAME,
    description="Private mount propagation: no shared or slave bind mounts between containers and the host.",
    enforcement="mandatory",
    scope="resource",
    resource_types=(CONTAINER, SERVICE),
    check=check,
)
