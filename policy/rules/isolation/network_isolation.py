"""Isolation.

- A workload attaches only to `internal` networks, except the edge (Traefik labelled edge) and
  declared egress services (label encrypted-platform.egress=true, and listed in this policy's
  egressServices when that is set), which may also attach to non-internal networks: the edge to
  any, an egress service only to networks labelled encrypted-platform.network.role=egress.
  Docker's default bridge (no network given), `host`, and networks the stack does not declare are
  not internal.
- Every Swarm overlay network is `internal` and `encrypted`.
- A network labelled with the internal role really is internal (labels must not lie).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analysis.edge import EdgeFacts
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import NETWORK, Resource, StackModel
from analysis.values import is_unknown, label_map
from analysis.workloads import NETWORK_ROLE_LABEL, NetworkAttachment, Workload, workloads_of

NAME = "network-isolation"
BUILTIN_NOT_INTERNAL = {"bridge", "default", "host", "docker_gwbridge", "ingress"}


def _network_label(net: Resource) -> Any:
    labels = label_map(net.props.get("labels"))
    return labels if is_unknown(labels) else labels.get(NETWORK_ROLE_LABEL)


def _network_findings(net: Resource, open_overlay_roles: list[str]) -> Iterator[Finding]:
    p = net.props
    driver, internal, options = p.get("driver"), p.get("internal"), p.get("options")
    if is_unknown(internal):
        yield unknown_finding(net, "internal", "whether the network is internal", "network:internal")
    role = _network_label(net)
    if role == "internal" and internal is not True and not is_unknown(internal):
        yield Finding(
            net,
            "internal",
            "is labelled encrypted-platform.network.role=internal but is not internal",
            "set internal: true",
            "network:label",
        )
    if is_unknown(driver):
        yield unknown_finding(net, "driver", "whether the network is a Swarm overlay", "network:driver")
        return
    if driver == "overlay":
        if internal is not True and not is_unknown(internal) and role not in open_overlay_roles:
            yield Finding(
                net,
                "internal",
                "is a Swarm overlay network that is not internal",
                "set internal: true (overlay traffic stays inside the cluster)",
                "overlay:internal",
            )
        if is_unknown(options):
            yield unknown_finding(net, "options", "that the overlay is encrypted", "overlay:encrypted")
        elif not (isinstance(options, dict) and "encrypted" in options):
            yield Finding(
                net,
                "options",
                "is a Swarm overlay network without encryption (VXLAN traffic between nodes in clear text)",
                'set options: {"encrypted": "true"} (needs ESP, IP protocol 50, between the hosts)',
                "overlay:encrypted",
            )


def _resolve(model: StackModel, w: Workload, att: NetworkAttachment) -> list[Resource] | str | None:
    """Networks an attachment may refer to; a built-in name; or None (cannot tell)."""
    if is_unknown(att.name):
        candidates = model.property_sources(w.resource, att.prop_key, [NETWORK])
        return candidates or None
    name = str(att.name)
    declared = model.named(NETWORK, name) or ([model.by_urn[name]] if name in model.by_urn else [])
    if declared:
        return declared
    if name in BUILTIN_NOT_INTERNAL or name == "none" or name.startswith(("container:", "service:")):
        return name
    # a network id (known after the update) or a name the stack does not declare
    candidates = model.property_sources(w.resource, att.prop_key, [NETWORK])
    return candidates or name


def check(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    assert model is not None
    for net in model.of_type(NETWORK):
        yield from _network_findings(net, list(ctx.config["nonInternalOverlayRoles"]))
    egress_allowed = ctx.config.get("egressServices")
    for w in model.fact(workloads_of):
        r = w.resource
        edge, edge_reason = model.fact(EdgeFacts.of).edge_status(w)
        egress = w.declares_egress()
        for att in w.networks:
            target = _resolve(model, w, att)
            if target is None:
                yield unknown_finding(r, att.field, "which network the workload joins", "network:unknown")
                continue
            if isinstance(target, str):
                if target == "none":
                    continue
                if target.startswith(("container:", "service:")):
                    yield Finding(
                        r,
                        att.field,
                        f"shares the network namespace of '{target.split(':', 1)[1]}', "
                        "whose networks this rule cannot verify",
                        "attach this stack's internal networks explicitly (networks_advanced)",
                        f"network:{target}",
                    )
                    continue
                nets: list[tuple[str, Any, Any]] = [(target, False, None)]
                if target not in BUILTIN_NOT_INTERNAL:
                    nets = [(target, "undeclared", None)]
            else:
                nets = [(n.label, n.props.get("internal"), _network_label(n)) for n in target]
            for net_label, internal, role in nets:
                if internal is True:
                    continue
                if is_unknown(internal):
                    yield unknown_finding(r, att.field, f"whether {net_label} is internal", "network:unknown")
                    continue
                why = "is not internal"
                if internal == "undeclared":
                    why = "is not declared in this stack, so it cannot be shown to be internal"
                elif att.implicit:
                    why = "is Docker's default (no network given), which is not internal"
                if edge is True:
                    continue
                if is_unknown(edge) and egress is not True:
                    yield unknown_finding(
                        r,
                        "labels/image",
                        f"that it may join non-internal {net_label} ({edge_reason})",
                        f"network:{net_label}",
                    )
                    continue
                if is_unknown(egress):
                    yield unknown_finding(
                        r, "labels", f"that it may join non-internal {net_label}", f"network:{net_label}"
                    )
                    continue
                if egress is True:
                    if (
                        egress_allowed is not None
                        and w.name not in egress_allowed
                        and r.name not in egress_allowed
                    ):
                        yield Finding(
                            r,
                            att.field,
                            f"declares egress but is not in this policy's egressServices "
                            f"({', '.join(egress_allowed) or 'none'}), and joins {net_label}, which {why}",
                            "attach internal networks only, or add the service to egressServices after "
                            "review",
                            f"network:{net_label}",
                        )
                    elif role != "egress":
                        yield Finding(
                            r,
                            att.field,
                            f"is an egress service on {net_label}, which {why} and is not "
                            "labelled encrypted-platform.network.role=egress",
                            "attach the egress "
                            "service to the egress network (internal: false, role egress) and internal "
                            "networks only",
                            f"network:{net_label}",
                        )
                    continue
                yield Finding(
                    r,
                    att.field,
                    f"joins {net_label}, which {why}; only the edge and declared egress services may",
                    "attach only internal networks (internal: true); if the service must "
                    "call out, declare it as egress",
                    f"network:{net_label}",
                )


RULE = Rule(
    name=NAME,
    description=(
        "Isolation: only the edge and declared egress services join non-internal networks; Swarm overlay "
        "networks are internal and encrypted."
    ),
    enforcement="mandatory",
    scope="stack",
    check=check,
    config={
        "nonInternalOverlayRoles": {
            "type": "array",
            "items": {"type": "string", "enum": ["egress", "ingress"]},
            "description": (
                "Network roles (label encrypted-platform.network.role) whose Swarm overlays may be non-internal "
                "(still encrypted): e.g. ['egress'] when Swarm egress services need a route out. Default: none."
            ),
            "default": [],
        },
        "egressServices": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "description": (
                "Names of the services allowed to declare egress (null: any service labelled "
                "encrypted-platform.egress=true)."
            ),
            "default": None,
        },
    },
)
