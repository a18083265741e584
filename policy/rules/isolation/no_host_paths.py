"""Containers and services mount only volumes, tmpfs, and allow-listed read-only files.

A bind mount puts host data (unencrypted, outside the LUKS volumes) into a container or lets the
container write to the host; the Docker socket hands out root on the host. Host devices are
host paths too.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import CONTAINER, SERVICE
from analysis.values import is_unknown
from analysis.workloads import workload_of

NAME = "no-host-paths"
# Container engine API sockets: mounting one (or a directory above one) gives root on the host.
ENGINE_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/podman/podman.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
)
SOCKET_NAMES = ("docker", "containerd", "podman", "crio", "cri-dockerd", "dockershim")
ALLOWED_KINDS = ("volume", "tmpfs", "bind", "volumes-from")


def exposes_engine_socket(path: str) -> bool:
    path = posixpath.normpath(path)
    if path == "/":
        return True
    for sock in ENGINE_SOCKETS:
        if path == sock or sock.startswith(path.rstrip("/") + "/"):
            return True
    base = posixpath.basename(path)
    return base.endswith(".sock") and any(n in base for n in SOCKET_NAMES)


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.resource is not None
    w = workload_of(ctx.resource)
    if w is None:
        return
    r = w.resource
    allowed = {posixpath.normpath(p) for p in ctx.config["allowedReadOnlyFiles"]}
    for m in w.mounts:
        if m.whole_list_unknown:
            yield unknown_finding(r, m.field, "whether it mounts host paths", "mount:unknown")
            continue
        if is_unknown(m.kind):
            yield unknown_finding(r, f"{m.field}.type", "whether this mount is a host path", "mount:unknown")
            continue
        if m.kind not in ALLOWED_KINDS:
            yield Finding(
                r,
                f"{m.field}.type",
                f"is a '{m.kind}' mount; only volumes, tmpfs and allow-listed read-only files may be mounted",
                "use an encrypted volume or tmpfs",
                f"mount:{m.kind}",
            )
            continue
        if m.kind != "bind":
            continue
        if is_unknown(m.source):
            yield unknown_finding(r, f"{m.field}.source", "which host path is bound", "bind:unknown")
            continue
        source = posixpath.normpath(str(m.source)) if isinstance(m.source, str) else str(m.source)
        target = m.target if isinstance(m.target, str) else ""
        if exposes_engine_socket(source) or (
            target and exposes_engine_socket(target) and target.endswith(".sock")
        ):
            yield Finding(
                r,
                f"{m.field}.source",
                f"binds {source}, which exposes the container engine's API socket (root on the host)",
                "remove the mount; Traefik here uses the file provider, never the Docker socket",
                f"bind:{source}",
            )
            continue
        if source not in allowed:
            yield Finding(
                r,
                f"{m.field}.source",
                f"binds the host path {source} into the container at {target}: "
                "host data is not on the encrypted volumes and the container can reach the host",
                "use an encrypted volume (data) or tmpfs (scratch); a read-only file such as a CA "
                "bundle may be allow-listed in this policy's allowedReadOnlyFiles",
                f"bind:{source}",
            )
            continue
        if is_unknown(m.read_only):
            yield unknown_finding(
                r, f"{m.field}.readOnly", "that the allow-listed file is read-only", f"bind:{source}"
            )
        elif m.read_only is not True:
            yield Finding(
                r,
                f"{m.field}.readOnly",
                f"binds the allow-listed file {source} writable",
                "set readOnly: true",
                f"bind:{source}",
            )
    for i, device in enumerate(w.devices):
        if is_unknown(device):
            yield unknown_finding(r, f"devices[{i}]", "which host device is exposed", "device:unknown")
            continue
        host_path = device.get("hostPath") if isinstance(device, dict) else device
        yield Finding(
            r,
            f"devices[{i}]",
            f"exposes the host device {host_path} to the container",
            "remove the device; data belongs on the encrypted volumes",
            f"device:{host_path}",
        )


RULE = Rule(
    name=NAME,
    description=(
        "No host paths: containers and services mount only encrypted volumes, tmpfs and allow-listed "
        "read-only files, never the Docker socket or host devices."
    ),
    enforcement="mandatory",
    scope="resource",
    resource_types=(CONTAINER, SERVICE),
    check=check,
    config={
        "allowedReadOnlyFiles": {
            "type": "array",
            "items": {"type": "string", "pattern": "^/"},
            "description": "Host files that may be bound read-only (e.g. the host's CA bundle).",
            "default": ["/etc/ssl/certs/ca-certificates.crt", "/etc/localtime"],
        }
    },
)
