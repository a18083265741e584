"""Commands do not create workloads, volumes or exposures behind the pack's back.

The pack judges the containers, volumes, networks and ports a stack declares. A Command that
runs the docker CLI (`docker run -v ...`, `docker volume create`, `docker compose up`,
`docker service create`, ...; podman and nerdctl alike), relays traffic with socat or a netcat
listener, or adds NAT rules (`iptables -t nat ... -j DNAT`, nft dnat/redirect) creates what the
pack never sees. Each is a violation unless an exception with a reason covers it (subjects:
`docker:<subcommand>[:<verb>]`, `socat`, `netcat:listen`, `nat:<target>`). `docker update`
that only tightens limits (--pids-limit, --memory, --cpus) is fine.
A program with constructs the reader cannot prove is reported by shell-programs-readable.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis.command_effects import effects_of
from analysis.rule import Context, Finding, Rule
from analysis.stack import COMMANDS

NAME = "commands-create-no-workloads"


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    for program in effects_of(r).programs:
        for ch in program.side_channels:
            yield Finding(
                r,
                f"{ch.field} (`{ch.text}`)",
                f"{ch.what}: the pack never sees what it creates or exposes",
                "declare it as a pulumi_docker resource (Container, Volume, Network) the pack can judge, or add a "
                "reviewed exception for this subject",
                ch.subject,
            )


RULE = Rule(
    name=NAME,
    description=(
        "No hidden workloads: Commands do not run the docker CLI, compose, socat or NAT rules (unless excepted)."
    ),
    enforcement="mandatory",
    scope="resource",
    resource_types=COMMANDS,
    check=check,
)
