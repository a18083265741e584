"""Every workload drops all capabilities and adds back only what it lists.

Docker's default set keeps 14 capabilities (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, ...). The
platform's services drop ALL and add back named ones (container-hardening refuses the dangerous
additions). Advisory in the pack; the project's stack configs (policy/config) make it mandatory.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import CONTAINER, SERVICE
from analysis.values import as_list, get_path, is_unknown

NAME = "capabilities-dropped"


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    if r.type == CONTAINER:
        field, drops = "capabilities.drops", get_path(r.props, "capabilities", "drops")
    else:
        field, drops = (
            "taskSpec.containerSpec.capDrops",
            get_path(r.props, "taskSpec", "containerSpec", "capDrops"),
        )
    if is_unknown(drops) or any(is_unknown(d) for d in as_list(drops)):
        yield unknown_finding(r, field, "which capabilities are dropped", "capabilities-dropped")
        return
    names = {str(d).strip().upper().removeprefix("CAP_") for d in as_list(drops) if isinstance(d, str)}
    if "ALL" not in names:
        yield Finding(
            r,
            field,
            "keeps Docker's default capabilities (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, ...)",
            'drop ALL and add back only what the service needs (capabilities: {drops: ["ALL"], adds: [...]})',
            "capabilities-dropped",
        )


RULE = Rule(
    name=NAME,
    description="Capabilities dropped: every container and service drops ALL and adds back only listed ones.",
    enforcement="advisory",
    scope="resource",
    resource_types=(CONTAINER, SERVICE),
    check=check,
)
