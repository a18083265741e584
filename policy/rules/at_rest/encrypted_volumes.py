"""Every Docker volume a stack declares or uses lives on LUKS.

A docker.Volume passes only when it binds (local driver, `type: none`, `o: bind`) a directory at
or under a mount point whose filesystem is a LUKS mapping opened and mounted by a Command of the
same stack, and it depends on that Command (so Docker never binds the bare directory before the
encrypted filesystem is mounted). Labels prove nothing. A container or Swarm service may use only
such volumes: an undeclared name, an anonymous volume or `volumes_from` would make Docker create
an unencrypted volume under /var/lib/docker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from analysis.luks import LuksFacts
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import VOLUME, Resource, StackModel
from analysis.values import is_unknown
from analysis.workloads import Mount, workloads_of

NAME = "encrypted-volumes"
LUKS_BIND_FIX = (
    "bind it to a directory inside a LUKS2 mount of this stack: driver 'local', driverOpts "
    "{type: none, o: bind, device: <mount point>/data}, opened and mounted by a Command "
    "(cryptsetup open --type luks2 ... && mount /dev/mapper/<name> <mount point>) that the "
    "volume depends on (EncryptedVolume does all of this)"
)


def volume_spec_findings(
    model: StackModel,
    owner: Resource,
    prefix: str,
    driver: Any,
    driver_opts: Any,
    depends_check: bool,
    subject: str,
    opts_field: str = "driverOpts",
) -> list[Finding]:
    """Findings for one volume definition (a docker.Volume, or a service mount's volume options)."""
    out: list[Finding] = []
    if is_unknown(driver):
        return [unknown_finding(owner, f"{prefix}driver", "the volume driver", f"{subject}:driver")]
    if driver not in (None, "", "local"):
        return [
            Finding(
                owner,
                f"{prefix}driver",
                f"uses volume driver '{driver}', which keeps the data outside any LUKS mount of this stack",
                LUKS_BIND_FIX,
                f"{subject}:driver",
            )
        ]
    if is_unknown(driver_opts):
        return [
            unknown_finding(
                owner, f"{prefix}{opts_field}", "where the volume stores its data", f"{subject}:device"
            )
        ]
    opts = driver_opts if isinstance(driver_opts, dict) else {}
    device, fs_type, mount_opts = opts.get("device"), opts.get("type"), opts.get("o")
    for key, value in (("device", device), ("type", fs_type), ("o", mount_opts)):
        if is_unknown(value):
            return [
                unknown_finding(
                    owner,
                    f"{prefix}{opts_field}.{key}",
                    "where the volume stores its data",
                    f"{subject}:device",
                )
            ]
    if not opts or device is None:
        return [
            Finding(
                owner,
                f"{prefix}{opts_field}",
                "has no bind device, so the default local driver keeps the data "
                "under /var/lib/docker/volumes on the host's unencrypted disk",
                LUKS_BIND_FIX,
                f"{subject}:device",
            )
        ]
    binds = isinstance(mount_opts, str) and "bind" in [o.strip() for o in mount_opts.split(",")]
    if fs_type != "none" or not binds:
        return [
            Finding(
                owner,
                f"{prefix}{opts_field}",
                f"mounts a '{fs_type}' filesystem (o={mount_opts}) instead of "
                "binding a directory of a LUKS mount",
                LUKS_BIND_FIX,
                f"{subject}:device",
            )
        ]
    if not isinstance(device, str) or not device.startswith("/"):
        return [
            Finding(
                owner,
                f"{prefix}{opts_field}.device",
                f"'{device}' is not an absolute path",
                LUKS_BIND_FIX,
                f"{subject}:device",
            )
        ]
    luks = model.fact(LuksFacts.of)
    provided = luks.provider_of(device)
    if provided is None:
        hints = []
        for path, why, cmd in luks.non_luks_mounts:
            if device == path or device.startswith(path.rstrip("/") + "/"):
                hints.append(f"{path} is mounted by {cmd.label} but {why}")
        unknown_cmds = [c.resource.label for c in luks.commands.values() if c.unknown_fields]
        if unknown_cmds:
            hints.append(
                "the programs of " + ", ".join(unknown_cmds) + " are unknown at preview (fail closed)"
            )
        if not luks.provided:
            hints.append("no command of this stack opens and mounts a LUKS mapping")
        else:
            hints.append(
                "LUKS mount points of this stack: " + ", ".join(sorted({p.path for p in luks.provided}))
            )
        out.append(
            Finding(
                owner,
                f"{prefix}{opts_field}.device",
                f"binds {device}, which is not at or under a mount point "
                f"that a LUKS mapping opened by a command of this stack provides ({'; '.join(hints)})",
                LUKS_BIND_FIX,
                f"{subject}:device",
            )
        )
        return out
    if depends_check and not model.depends_on(owner, provided.mounted_by.urn):
        out.append(
            Finding(
                owner,
                "dependencies",
                f"binds {device} on the LUKS mount {provided.path} "
                f"(mapping {provided.mapping.name}) but does not depend on {provided.mounted_by.label}, which "
                "mounts it: Docker could bind the bare directory on the unencrypted disk first",
                f"add depends_on=[{provided.mounted_by.name}] to the volume",
                f"{subject}:order",
            )
        )
    return out


def _volume_findings(model: StackModel, volume: Resource) -> list[Finding]:
    cache: dict[str, list[Finding]] = model.__dict__.setdefault("_encrypted_volume_findings", {})
    if volume.urn not in cache:
        cache[volume.urn] = volume_spec_findings(
            model, volume, "", volume.props.get("driver"), volume.props.get("driverOpts"), True, "volume"
        )
    return cache[volume.urn]


def _check_mount(model: StackModel, w: Any, m: Mount) -> Iterator[Finding]:
    r = w.resource
    if m.whole_list_unknown:
        yield unknown_finding(r, m.field, "which volumes the workload uses", "mount:unknown")
        return
    if is_unknown(m.kind):
        yield unknown_finding(
            r, f"{m.field}.type", "whether this mount is an encrypted volume", "mount:unknown"
        )
        return
    if m.kind == "volumes-from":
        yield Finding(
            r,
            m.field,
            f"uses the volumes of container '{m.source}', which this rule cannot verify",
            "mount this stack's encrypted volumes explicitly instead of volumes_from",
            "mount:volumes-from",
        )
        return
    if m.kind != "volume":
        return  # binds and tmpfs: rule no-host-paths
    if m.source is None or m.source == "":
        yield Finding(
            r,
            m.field,
            f"is an anonymous volume at {m.target}: Docker creates it with the default "
            "driver under /var/lib/docker, unencrypted",
            "mount a named volume of this stack that lives on LUKS (an EncryptedVolume)",
            "mount:anonymous",
        )
        return
    if is_unknown(m.source):
        candidates = model.property_sources(r, m.prop_key, [VOLUME])
        if not candidates:
            yield unknown_finding(r, f"{m.field}.source", "which volume is mounted", "mount:unknown")
            return
        # The unknown name is one of these volumes: it cannot matter if all of them are encrypted.
        bad = [v for v in candidates if _volume_findings(model, v)]
        if bad:
            yield Finding(
                r,
                f"{m.field}.source",
                "is unknown at preview and may be "
                + ", ".join(v.label for v in bad)
                + ", which is not on LUKS (fail closed)",
                "fix those volumes (see their own violations)",
                "mount:unknown",
            )
        return
    named = model.named(VOLUME, m.source)
    if not named:
        named = [v for v in model.property_sources(r, m.prop_key, [VOLUME]) if v.name == m.source]
    if named:
        for v in named:
            if _volume_findings(model, v):
                yield Finding(
                    r,
                    f"{m.field}.source",
                    f"mounts {v.label} at {m.target}, which is not on LUKS",
                    "fix the volume (see its own violation) or mount an encrypted one",
                    f"mount:{m.source}",
                )
        return
    if m.driver is not None or m.driver_options is not None:
        # The volume does not exist in this stack: its inline options decide how Docker creates it.
        yield from volume_spec_findings(
            model,
            r,
            f"{m.field}.volumeOptions.",
            m.driver or "local",
            m.driver_options,
            False,
            f"mount:{m.source}",
            "driverOptions",
        )
        return
    yield Finding(
        r,
        f"{m.field}.source",
        f"mounts volume '{m.source}', which no docker.Volume of this stack "
        "declares: Docker creates it on first use with the default driver, unencrypted",
        "declare it as an encrypted volume of this stack (EncryptedVolume) and mount that",
        f"mount:{m.source}",
    )


def check(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    assert model is not None
    for volume in model.of_type(VOLUME):
        yield from _volume_findings(model, volume)
    for w in model.fact(workloads_of):
        for m in w.mounts:
            yield from _check_mount(model, w, m)


RULE = Rule(
    name=NAME,
    description=(
        "Data only on LUKS: every docker.Volume (and every volume a container or Swarm service uses) "
        "binds a directory of a LUKS2 mount opened by a command of this stack."
    ),
    enforcement="mandatory",
    scope="stack",
    check=check,
)
