"""LUKS mount points stay what the LUKS Command made them.

A volume is accepted because a Command opens a LUKS mapping and mounts it on P. That proof holds
only if nothing in the stack changes P afterwards or instead: any Command (the same one or
another, ordered or not: an unordered one may run later) that mounts, bind-mounts or moves a
filesystem on P, under P or on a parent of P, unmounts one of them (or everything), or puts a
symlink there, is a violation. The one accepted operation is the proven pattern: a LUKS mapping
of this stack (/dev/mapper/<name>) mounted exactly on a LUKS mount point. A target the reader
cannot resolve could be P: fail closed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from analysis.command_effects import PathOp, effects_of, normalized
from analysis.luks import LuksFacts
from analysis.rule import Context, Finding, Rule
from analysis.stack import COMMANDS, Resource

NAME = "luks-mount-points-intact"
FIX = (
    "leave LUKS mount points (and their parents) alone: no bind mounts, other filesystems, "
    "unmounts or symlinks there; put other data on its own EncryptedVolume"
)


def _related_points(target: str, points: set[str], above: dict[str, list[str]]) -> list[str]:
    """Mount points that `target` is, lies under, or lies above (a mount or link there hides
    them); by index, so a stack with many mount points stays linear."""
    hit = list(above.get(target, []))
    current = target
    while True:
        if current in points:
            hit.append(current)
        parent = posixpath.dirname(current)
        if parent == current:
            return sorted(set(hit))
        current = parent


def _finding(r: Resource, op: PathOp, problem: str, subject: str) -> Finding:
    return Finding(r, f"{op.field} (`{op.text}`)", problem, FIX, subject)


def check(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    assert model is not None
    luks = model.fact(LuksFacts.of)
    points = sorted({p.path for p in luks.provided})
    point_set = set(points)
    above: dict[str, list[str]] = {}  # every parent directory of a mount point -> those points
    for p in points:
        parent = posixpath.dirname(p)
        while True:
            above.setdefault(parent, []).append(p)
            if parent == "/":
                break
            parent = posixpath.dirname(parent)
    if not points:
        return
    luks_mappings = {
        m.name for c in luks.commands.values() for m in c.mappings if m.kind in ("luks", "luks2")
    }
    for r in model.of_type(*COMMANDS):
        for program in effects_of(r).programs:
            for op in program.path_ops:
                if op.kind in ("mount-all", "unmount-all"):
                    yield _finding(
                        r,
                        op,
                        f"{'mounts' if op.kind == 'mount-all' else 'unmounts'} every filesystem of fstab "
                        f"at once, LUKS mount points ({', '.join(points)}) included",
                        f"{op.kind}",
                    )
                    continue
                target = normalized(op.target)
                if target is None:
                    yield _finding(
                        r,
                        op,
                        f"runs {op.tool} on a path the reader cannot resolve ({op.target.raw if op.target else '?'}), "
                        f"which may be a LUKS mount point of this stack ({', '.join(points)}) (fail closed)",
                        f"{op.tool}:unknown",
                    )
                    continue
                hit = _related_points(target, point_set, above)
                if not hit:
                    continue
                source = normalized(op.source)
                if (
                    op.kind == "mount"
                    and target in points
                    and source is not None
                    and source.startswith("/dev/mapper/")
                    and source[len("/dev/mapper/") :] in luks_mappings
                ):
                    continue  # the proven pattern: a LUKS mapping mounted on its mount point
                what = {
                    "mount": f"mounts {op.source.raw if op.source is not None else 'an fstab entry'} on {target}",
                    "bind": f"bind-mounts {op.source.raw if op.source is not None else '?'} on {target}",
                    "unmount": f"unmounts {target}",
                    "symlink": f"puts a symlink at {target}",
                }[op.kind]
                yield _finding(
                    r,
                    op,
                    f"{what}, on or around the LUKS mount point {hit[0]}: what containers then see there "
                    "is not (only) the encrypted filesystem",
                    f"{op.kind}:{target}",
                )


RULE = Rule(
    name=NAME,
    description=(
        "LUKS mount points stay intact: no Command mounts, binds, unmounts or symlinks on, under or above a "
        "LUKS mount point except the LUKS mapping's own mount."
    ),
    enforcement="mandatory",
    scope="stack",
    check=check,
)
