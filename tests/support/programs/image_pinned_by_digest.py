"""What rule image-pinned-by-digest reports: the baseline with one mistake on its app.

The rule is advisory; each program makes it mandatory through the pack configuration, as a
stack's configuration may."""

from __future__ import annotations

from . import violation
from .baseline import platform_with_app

RULE = "image-pinned-by-digest"


@violation(RULE, resource="app", exact=True, pack_config={RULE: "mandatory"})
def app_image_by_tag_only() -> None:
    """The app runs ghcr.io/example/app:1.0 with no digest: the tag can move to other code."""
    platform_with_app(image="ghcr.io/example/app:1.0")
