"""Every container has a PID limit (a fork bomb in one service cannot exhaust the host's PIDs).

pulumi-docker 5.2's Container has no PID-limit argument; the limit is set after creation with
`docker update --pids-limit N <container>` by a Command that depends on the container (the
project's PlatformService does this). That Command, found in the stack, is the evidence: a
positive limit, the container's Docker name, and a dependency on the container. Swarm services
cannot set one with this provider (the memory limit bounds them instead).
Advisory: the edge container has no such Command yet, and Swarm services cannot have one.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis.command_effects import effects_of
from analysis.rule import Context, Finding, Rule
from analysis.stack import COMMANDS, CONTAINER, SERVICE, Resource, StackModel

NAME = "pid-limits"


def _limited(model: StackModel) -> dict[str, list[Resource]]:
    """Docker container name -> the Commands that give it a positive PID limit."""
    out: dict[str, list[Resource]] = {}
    for cmd in model.of_type(*COMMANDS):
        for program in effects_of(cmd).programs:
            for pl in program.pids_limits:
                if not pl.limit.resolved or not str(pl.limit).isdigit() or int(str(pl.limit)) <= 0:
                    continue
                for name in pl.containers:
                    if name.resolved:
                        out.setdefault(str(name), []).append(cmd)
    return out


def check(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    assert model is not None
    limited = _limited(model)
    for r in model.of_type(SERVICE):
        yield Finding(
            r,
            "taskSpec.resources.limits",
            "is a Swarm service, which cannot get a PID limit with pulumi-docker 5.2",
            "keep its memory limit low enough to bound a fork bomb, or run it as a container with a PID limit",
            "pids:swarm",
        )
    for r in model.of_type(CONTAINER):
        name = r.props.get("name")
        commands = limited.get(name, []) if isinstance(name, str) else []
        if any(model.depends_on(c, r.urn) for c in commands):
            continue
        why = (
            "has a `docker update --pids-limit` Command that does not depend on it (it may run first)"
            if commands
            else "has no PID limit (no Command of the stack runs `docker update --pids-limit N` for it)"
        )
        yield Finding(
            r,
            "name",
            why,
            "add a Command `docker update --pids-limit <n> <container name>` that depends on the container",
            "pids",
        )


RULE = Rule(
    name=NAME,
    description="PID limits on every container (set by a `docker update --pids-limit` Command after creation).",
    enforcement="advisory",
    scope="stack",
    check=check,
)
