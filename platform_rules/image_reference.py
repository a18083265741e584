"""The image-reference grammar: `repository[:tag][@sha256:<64 hex>]`, or a bare image ID.

One grammar for every reader: the settings (which also require an explicit release tag), the
policy pack (which reads whatever image a program gives a container or a Swarm service) and
scripts/pin_images.py. The repository is lowercase path components, optionally behind a registry
host with a dot in its name and an optional port (`registry.example.org:5000/team/app`). A bare
image ID (`sha256:<64 hex>`, what RemoteImage.image_id resolves to) names content, so it counts as
pinned by digest.

The texts are plain regular expressions so the settings can compose them into their own grammars;
they are matched whole and ASCII-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REPOSITORY = (
    r"(?:[a-z0-9-]+(?:\.[a-z0-9-]+)+(?::[0-9]{1,5})?/)?"  # optional registry host[:port]/
    r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
)
TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
DIGEST = r"sha256:[0-9a-f]{64}"
# The tag is optional here (Docker reads `repository` as `repository:latest`); readers that need
# an explicit tag check `ImageReference.tag`.
REFERENCE = rf"(?P<repository>{REPOSITORY})(?::(?P<tag>{TAG}))?(?:@(?P<digest>{DIGEST}))?"

# The edge's image: the pack recognises the edge by its repository's last path component (a label
# alone proves nothing), so the settings accept a registry mirror only under this name.
TRAEFIK = "traefik"

_REFERENCE = re.compile(REFERENCE, re.ASCII)
_DIGEST = re.compile(DIGEST, re.ASCII)


@dataclass(frozen=True)
class ImageReference:
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The repository's last path component: 'docker.io/library/traefik' -> 'traefik'."""
        return self.repository.rsplit("/", 1)[-1]


def parse(reference: object) -> ImageReference | None:
    """'repo[:tag][@sha256:...]' -> its parts, or None when `reference` is not an image reference
    (a bare image ID is not one either: see `is_image_id`)."""
    if not isinstance(reference, str) or is_image_id(reference):
        return None
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        return None
    return ImageReference(match.group("repository"), match.group("tag"), match.group("digest"))


def is_digest(value: object) -> bool:
    """'sha256:' followed by 64 lowercase hex digits."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def is_image_id(image: object) -> bool:
    """A bare image ID 'sha256:<64 hex>' (content, not a name)."""
    return is_digest(image)


def pinned_by_digest(image: object) -> bool:
    """True for 'repository[:tag]@sha256:<64 hex>' and for a bare image ID."""
    if is_image_id(image):
        return True
    parsed = parse(image)
    return parsed is not None and parsed.digest is not None


def repository_name(image: object) -> str | None:
    """The last path component of the image's repository ('docker.io/library/traefik:v3.1@sha256:..'
    -> 'traefik'), or None when `image` is not an image reference."""
    parsed = parse(image)
    return parsed.name if parsed is not None else None


def is_traefik_repository(repository: str) -> bool:
    """'traefik', 'docker.io/library/traefik', 'registry.example.org:5000/mirror/traefik'."""
    return repository.rsplit("/", 1)[-1] == TRAEFIK
