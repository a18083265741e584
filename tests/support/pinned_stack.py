"""A shipped stack file as `make pin-images` would leave it, without a registry.

Pulumi.prod.yaml ships its images as "repository:tag" (production requires digests, which only the
registry can tell). Tests that analyse prod "as deployed" pin it in memory with the pin helper's
own text edit (scripts/pin_images.py `targets` and `pin_text`), each image given a fixed fake
digest: the SHA-256 of its reference, so every image has its own and every run the same.
"""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from scripts.pin_images import pin_text, targets
from tests.support.program_runner import PROJECT, REPO


def fake_digest(reference: str) -> str:
    return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


def project_keys(text: str) -> dict[str, Any]:
    raw = (yaml.safe_load(text) or {}).get("config") or {}
    prefix = f"{PROJECT}:"
    return {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}


def pinned_stack_text(stack: str) -> str:
    text = (REPO / f"Pulumi.{stack}.yaml").read_text()
    return pin_text(text, {target: fake_digest(target.reference) for target in targets(project_keys(text))})


def pinned_stack_config(stack: str) -> dict[str, Any]:
    """The project keys of Pulumi.<stack>.yaml with every image it writes pinned by a fake digest
    (a stack that pins nothing comes back as it is)."""
    return project_keys(pinned_stack_text(stack))
