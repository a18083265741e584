"""Container hardening.

No privileged mode; no host network, PID, IPC, user or cgroup namespace; no added capability from
forbiddenCapabilities (SYS_ADMIN, NET_ADMIN, ALL, ...); no-new-privileges set; no security
option that switches confinement off (seccomp/apparmor unconfined, label disable).

Swarm services cannot set no-new-privileges per service (the Docker API has no such field):
they pass only when this policy's daemonEnforcesNoNewPrivileges records that every Swarm node's
daemon.json sets "no-new-privileges": true.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import CONTAINER, SERVICE
from analysis.values import is_unknown
from analysis.workloads import workload_of

NAME = "container-hardening"
UNCONFINED = (
    "seccomp=unconfined",
    "seccomp:unconfined",
    "apparmor=unconfined",
    "apparmor:unconfined",
    "label=disable",
    "label:disable",
    "systempaths=unconfined",
    "systempaths:unconfined",
)


def _cap(name: str) -> str:
    name = name.strip().upper()
    return name[4:] if name.startswith("CAP_") else name


def no_new_privileges(opts: list[object]) -> bool | None:
    """True when set, False when explicitly turned off, None when absent."""
    result = None
    for opt in opts:
        if not isinstance(opt, str):
            continue
        text = opt.strip().lower().replace("=", ":")
        if text in ("no-new-privileges", "no-new-privileges:true"):
            result = True
        elif text == "no-new-privileges:false":
            return False
    return result


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.resource is not None
    w = workload_of(ctx.resource)
    if w is None:
        return
    r = w.resource
    forbidden = {_cap(c) for c in ctx.config["forbiddenCapabilities"]}
    if is_unknown(w.privileged):
        yield unknown_finding(r, "privileged", "that the container is not privileged", "privileged")
    elif w.privileged is True:
        yield Finding(
            r,
            "privileged",
            "runs privileged (every capability, every device, no confinement)",
            "remove privileged; add only the capabilities it needs",
            "privileged",
        )
    namespaces = [
        ("networkMode", w.network_mode, "network"),
        ("pidMode", w.pid_mode, "PID"),
        ("ipcMode", w.ipc_mode, "IPC"),
        ("usernsMode", w.userns_mode, "user"),
        ("cgroupnsMode", r.props.get("cgroupnsMode") if w.kind == "container" else None, "cgroup"),
    ]
    for field, value, what in namespaces:
        if is_unknown(value):
            yield unknown_finding(
                r,
                field,
                f"that the container does not share the host's {what} namespace",
                f"namespace:{field}",
            )
        elif isinstance(value, str) and value.strip().lower() == "host":
            yield Finding(
                r, field, f"shares the host's {what} namespace", f"remove {field}: host", f"namespace:{field}"
            )
    if w.kind == "service":
        for att in w.networks:
            if att.name == "host":
                yield Finding(
                    r,
                    att.field,
                    "joins the host network",
                    "attach internal overlay networks instead",
                    "namespace:network",
                )
    if is_unknown(w.cap_add):
        yield unknown_finding(r, w.cap_add_field, "which capabilities are added", "capabilities")
    else:
        for i, cap in enumerate(w.cap_add or []):
            if is_unknown(cap):
                yield unknown_finding(
                    r, f"{w.cap_add_field}[{i}]", "which capability is added", "capabilities"
                )
            elif isinstance(cap, str) and _cap(cap) in forbidden:
                yield Finding(
                    r,
                    f"{w.cap_add_field}[{i}]",
                    f"adds the capability {cap}",
                    "remove it (drop ALL and add back only narrow capabilities such as NET_BIND_SERVICE)",
                    f"capability:{_cap(cap)}",
                )
    if w.kind == "container":
        opts = w.security_opts
        if is_unknown(opts):
            yield unknown_finding(r, "securityOpts", "that no-new-privileges is set", "no-new-privileges")
            return
        opts = list(opts or [])
        if any(is_unknown(o) for o in opts):
            yield unknown_finding(r, "securityOpts", "that no-new-privileges is set", "no-new-privileges")
            return
        nnp = no_new_privileges(opts)
        if nnp is not True:
            yield Finding(
                r,
                "securityOpts",
                "does not set no-new-privileges" if nnp is None else "turns no-new-privileges off",
                'add "no-new-privileges:true" to securityOpts',
                "no-new-privileges",
            )
        for opt in opts:
            if isinstance(opt, str) and opt.strip().lower().replace(" ", "") in UNCONFINED:
                yield Finding(
                    r, "securityOpts", f"'{opt}' switches confinement off", "remove it", f"securityOpt:{opt}"
                )
    elif not ctx.config["daemonEnforcesNoNewPrivileges"]:
        yield Finding(
            r,
            "taskSpec.containerSpec",
            "is a Swarm service, which cannot set no-new-privileges itself",
            'set "no-new-privileges": true in /etc/docker/daemon.json of every Swarm node and record it '
            "in this policy's daemonEnforcesNoNewPrivileges",
            "no-new-privileges",
        )


RULE = Rule(
    name=NAME,
    description=(
        "Container hardening: no privileged mode, no host namespaces, no SYS_ADMIN/NET_ADMIN/ALL capabilities, "
        "no-new-privileges set."
    ),
    enforcement="mandatory",
    scope="resource",
    resource_types=(CONTAINER, SERVICE),
    check=check,
    config={
        "forbiddenCapabilities": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Capabilities no container may add.",
            "default": [
                "ALL",
                "SYS_ADMIN",
                "NET_ADMIN",
                "SYS_MODULE",
                "SYS_RAWIO",
                "SYS_PTRACE",
                "DAC_READ_SEARCH",
                "BPF",
            ],
        },
        "daemonEnforcesNoNewPrivileges": {
            "type": "boolean",
            "description": (
                "Every Swarm node's daemon.json sets no-new-privileges (Swarm services cannot set it per service)."
            ),
            "default": False,
        },
    },
)
