"""Stateful images keep their data on an encrypted volume.

A database, vector store, search engine, queue or object store (analysis/stateful.py) must have
its data directory at or under the target of a mounted volume that binds a directory of a LUKS
mount of this stack. Without one the data sits in the container's writable layer on the host's
unencrypted disk (a writable root), or in no durable place at all. An image unknown at preview
is read from the docker.RemoteImage it comes from; if there is none it fails closed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from analysis.luks import LuksFacts
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import VOLUME, StackModel
from analysis.stateful import stateful_image
from analysis.values import get_path, is_unknown
from analysis.workloads import Workload, images_of, workloads_of

NAME = "stateful-images-on-encrypted-volumes"


def _encrypted_targets(model: StackModel, w: Workload) -> list[str]:
    out = []
    for m in w.mounts:
        if m.kind != "volume" or not isinstance(m.target, str):
            continue
        volumes: list[Any] = []
        if isinstance(m.source, str):
            volumes = model.named(VOLUME, m.source)
        elif is_unknown(m.source):
            volumes = model.property_sources(w.resource, m.prop_key, [VOLUME])
        devices = [get_path(v.props, "driverOpts", "device") for v in volumes]
        if not devices and isinstance(get_path(m.driver_options, "device"), str):
            devices = [get_path(m.driver_options, "device")]
        if devices and all(
            isinstance(d, str) and model.fact(LuksFacts.of).provider_of(d) is not None for d in devices
        ):
            out.append(posixpath.normpath(m.target))
    return out


def check(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    assert model is not None
    for w in model.fact(workloads_of):
        images = images_of(model, w)
        if images is None:
            yield unknown_finding(
                w.resource, w.image_field, "whether the image keeps state", "stateful:image"
            )
            continue
        env = w.env if isinstance(w.env, dict) else {}
        for image in images:
            kind = stateful_image(image, env)
            if kind is None:
                continue
            targets = _encrypted_targets(model, w)
            uncovered = [
                d
                for d in kind.data_dirs[:1]
                if not any(d == t or d.startswith(t.rstrip("/") + "/") for t in targets)
            ]
            if not uncovered:
                continue
            writable = "a writable root filesystem" if w.read_only is not True else "a read-only root"
            yield Finding(
                w.resource,
                "mounts",
                f"runs {kind.what} ({image}) with {uncovered[0]} on no encrypted volume and {writable}: "
                "its data would sit unencrypted in the container layer under /var/lib/docker (or be lost)",
                f"mount an encrypted volume of this stack (LUKS-bound docker.Volume) at {uncovered[0]}",
                f"stateful:{kind.what}",
            )


RULE = Rule(
    name=NAME,
    description="Stateful images (databases, vector stores, queues) keep their data directory on an encrypted volume.",
    enforcement="mandatory",
    scope="stack",
    check=check,
)
