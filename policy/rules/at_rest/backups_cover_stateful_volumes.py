"""In production, every volume that holds a stateful workload's data is backed up.

A lost disk loses every volume on it; LUKS protects the data from theft, not from loss. In a
production stack (analysis/production.py, as the certificates rule reads it), a docker.Volume
mounted at or above the data directory of a database, vector store, queue or object store
(analysis/stateful.py) must be covered by a backup of the stack:
- named in a backup install's `EP_BACKUP_VOLUMES` (space-separated), by its
  `encrypted-platform.volume` label or its Docker name; or
- the target of a `restic backup` a Command of the stack runs (the volume's host directory at
  or under one of its paths).
A backup install whose volume list is unresolved, or a Command whose program is unknown at
preview while a volume is uncovered, fails closed. Advisory: a platform may back up by means
the pack cannot see (a storage snapshot).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from analysis.backups import VOLUMES_PARAMETER, backup_installs, programs_of, unknown_backup_commands
from analysis.production import CONFIG as PRODUCTION_CONFIG
from analysis.production import is_production
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import COMMANDS, VOLUME, Resource, StackModel
from analysis.stateful import stateful_image
from analysis.values import get_path, is_unknown, label_map
from analysis.workloads import images_of, workloads_of

NAME = "backups-cover-stateful-volumes"
VOLUME_LABEL = "encrypted-platform.volume"
FIX = (
    "enable backups for the stack (encrypted-platform:backups.enabled, with the volume in "
    "backups.volumes), or add a Command that runs `restic backup` of the volume's directory"
)


def stateful_volumes(model: StackModel) -> dict[str, tuple[Resource, str]]:
    """Volumes holding a stateful workload's data: URN -> (volume, what the workload runs)."""
    out: dict[str, tuple[Resource, str]] = {}
    for w in model.fact(workloads_of):
        env = w.env if isinstance(w.env, dict) else {}
        kinds = [k for k in (stateful_image(i, env) for i in images_of(model, w) or []) if k is not None]
        for kind in kinds:
            data_dir = posixpath.normpath(kind.data_dirs[0])
            for m in w.mounts:
                if m.kind != "volume" or not isinstance(m.target, str):
                    continue
                target = posixpath.normpath(m.target)
                if not (data_dir == target or data_dir.startswith(target.rstrip("/") + "/")):
                    continue
                if isinstance(m.source, str):
                    volumes = model.named(VOLUME, m.source)
                else:
                    volumes = model.property_sources(w.resource, m.prop_key, [VOLUME])
                for v in volumes:
                    out.setdefault(v.urn, (v, f"{kind.what} in {w.label}"))
    return out


def volume_names(volume: Resource) -> set[str]:
    names = {n for n in (volume.props.get("name"),) if isinstance(n, str)}
    labels = label_map(volume.props.get("labels"))
    if not is_unknown(labels) and isinstance(labels.get(VOLUME_LABEL), str):
        names.add(labels[VOLUME_LABEL])
    return names


def _restic_backup_paths(model: StackModel) -> list[str]:
    paths: list[str] = []
    for r in model.of_type(*COMMANDS):
        for field, call in programs_of(r).restic_calls():
            if field == "delete" or call.subcommand != "backup":
                continue
            paths.extend(
                posixpath.normpath(str(w)) for w in call.positional[1:] if w.resolved and w.startswith("/")
            )
    return paths


def check(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    assert model is not None
    production, why = is_production(model.info, dict(ctx.config))
    if not production:
        return
    volumes = stateful_volumes(model)
    if not volumes:
        return
    named: set[str] = set()
    for install in backup_installs(model):
        for value in install.parameters.get(VOLUMES_PARAMETER, ()):
            if value is None:
                continue
            if not value.resolved:
                yield unknown_finding(
                    install.resource,
                    f"{install.field} ({VOLUMES_PARAMETER})",
                    "which volumes it backs up",
                    "backup:unknown",
                )
                continue
            named.update(str(value).split())
    paths = _restic_backup_paths(model)
    uncovered = []
    for volume, what in volumes.values():
        if volume_names(volume) & named:
            continue
        device = get_path(volume.props, "driverOpts", "device")
        if isinstance(device, str) and any(
            posixpath.normpath(device) == p or posixpath.normpath(device).startswith(p.rstrip("/") + "/")
            for p in paths
        ):
            continue
        uncovered.append((volume, what))
    if not uncovered:
        return
    for command, field in unknown_backup_commands(model):
        yield unknown_finding(command, field, "whether it backs up the stateful volumes", "backup:unknown")
    for volume, what in uncovered:
        yield Finding(
            volume,
            "name",
            f"holds the data of {what} and no backup of the stack covers it ({why}): a lost disk loses it",
            FIX,
            "backup:uncovered",
        )


RULE = Rule(
    name=NAME,
    description="In production, every volume holding a stateful workload's data is covered by a backup.",
    enforcement="advisory",
    scope="stack",
    check=check,
    config=dict(PRODUCTION_CONFIG),
)
