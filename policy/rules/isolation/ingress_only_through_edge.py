"""Traffic enters only through the edge.

Only the edge (a Traefik workload labelled encrypted-platform.role=edge) publishes ports, only
the configured ones (80 and 443), each on a fixed host port; nothing publishes all ports.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis.edge import EdgeFacts
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.values import is_unknown, to_int
from analysis.workloads import workloads_of

NAME = "ingress-only-through-edge"


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.model is not None
    edges = ctx.model.fact(EdgeFacts.of)
    allowed = {int(p) for p in ctx.config["publishedPorts"]}
    for w in ctx.model.fact(workloads_of):
        r = w.resource
        if is_unknown(w.publish_all):
            yield unknown_finding(r, "publishAllPorts", "that no port is published", "publish-all")
        elif w.publish_all is True:
            yield Finding(
                r,
                "publishAllPorts",
                "publishes every exposed port of the image on random host ports",
                "remove publishAllPorts; only the edge publishes, and only "
                + ", ".join(map(str, sorted(allowed))),
                "publish-all",
            )
        if w.ports_unknown:
            yield unknown_finding(r, "ports", "which ports are published", "ports")
        if not w.ports:
            continue
        status, reason = edges.edge_status(w)
        if is_unknown(status):
            yield unknown_finding(r, "labels/image", f"that this workload is the edge ({reason})", "ports")
            continue
        if status is not True:
            published = ", ".join(
                str(p.published if p.published is not None else p.internal) for p in w.ports
            )
            yield Finding(
                r,
                w.ports[0].field.split("[")[0],
                f"publishes ports ({published}) but is not the edge: {reason}",
                "remove the ports and route traffic through the Traefik edge (a router "
                "in its dynamic configuration)",
                "ports",
            )
            continue
        for p in w.ports:
            number = to_int(p.published)
            if is_unknown(number):
                yield unknown_finding(r, f"{p.field}", "the published host port", f"port:{p.internal}")
            elif not number:
                yield Finding(
                    r,
                    p.field,
                    f"publishes container port {p.internal} on a random host port",
                    "set the external/published port to one of " + ", ".join(map(str, sorted(allowed))),
                    f"port:{p.internal}",
                )
            elif number not in allowed:
                yield Finding(
                    r,
                    p.field,
                    f"publishes host port {number}; the edge may publish only "
                    + ", ".join(map(str, sorted(allowed))),
                    "remove the port, or add it to this policy's publishedPorts after review",
                    f"port:{number}",
                )


RULE = Rule(
    name=NAME,
    description=(
        "Ingress only through the edge: only the Traefik edge publishes ports, only the configured ones "
        "(80, 443), never all ports."
    ),
    enforcement="mandatory",
    scope="stack",
    check=check,
    config={
        "publishedPorts": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 65535},
            "description": "Host ports the edge may publish.",
            "default": [80, 443],
        }
    },
)
