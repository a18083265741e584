"""Advisory: images pinned by digest (name@sha256:...), so a moved tag cannot change what runs.

An image computed from an image resource (RemoteImage.image_id or repo_digest) is pinned when
that resource's name is.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis.edge import EdgeFacts
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.workloads import workloads_of

from platform_rules.image_reference import is_image_id, pinned_by_digest

NAME = "image-pinned-by-digest"


def check(ctx: Context) -> Iterator[Finding]:
    assert ctx.model is not None
    for w in ctx.model.fact(workloads_of):
        facts = ctx.model.fact(EdgeFacts.of).image(w)
        if facts.unknown:
            yield unknown_finding(w.resource, w.image_field, "that the image is pinned by digest", "image")
            continue
        refs = [ref for ref in facts.references if not is_image_id(ref)] or facts.references
        loose = [ref for ref in refs if not pinned_by_digest(ref)]
        if loose:
            yield Finding(
                w.resource,
                w.image_field,
                f"runs {', '.join(loose)}, a tag that can move",
                "pin the image by digest (name:tag@sha256:<digest>)",
                "image",
            )


RULE = Rule(
    name=NAME,
    description="Images pinned by digest (advisory).",
    enforcement="advisory",
    scope="stack",
    check=check,
)
