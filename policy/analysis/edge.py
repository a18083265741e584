"""Which workloads are the edge: labelled `encrypted-platform.role=edge` *and* running Traefik
(the image says so, directly or through the image resource it was computed from). A label alone
proves nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from platform_rules.image_reference import TRAEFIK, is_image_id, repository_name

from .stack import REGISTRY_IMAGE, REMOTE_IMAGE
from .values import UNKNOWN, is_unknown
from .workloads import Workload, workloads_of

if TYPE_CHECKING:
    from .stack import StackModel

IMAGE_RESOURCES = (REMOTE_IMAGE, REGISTRY_IMAGE, "docker:index/image:Image")


@dataclass
class ImageFacts:
    """The image reference(s) a workload runs: its own value, or those of the image resources
    the value was computed from (at preview an image ID is unknown)."""

    references: list[str]
    unknown: bool  # could not be determined


@dataclass
class EdgeFacts:
    model: StackModel

    @staticmethod
    def of(model: StackModel) -> EdgeFacts:
        return EdgeFacts(model)

    def image(self, w: Workload) -> ImageFacts:
        if isinstance(w.image, str):
            if is_image_id(w.image):
                # an image ID: the reference is the image resource it came from
                refs = self._image_resource_names(w)
                return ImageFacts([w.image, *refs], False)
            return ImageFacts([w.image], False)
        refs = self._image_resource_names(w)
        if refs:
            return ImageFacts(refs, False)
        return ImageFacts([], True)

    def _image_resource_names(self, w: Workload) -> list[str]:
        out: list[str] = []
        for src in self.model.property_sources(w.resource, w.image_prop, IMAGE_RESOURCES):
            name = src.props.get("name")
            if isinstance(name, str):
                out.append(name)
        return out

    def image_is_traefik(self, w: Workload) -> Any:
        facts = self.image(w)
        if facts.unknown:
            return UNKNOWN
        # A reference that is no image reference at all names no repository: not Traefik.
        repos = {repository_name(r) for r in facts.references if not is_image_id(r)}
        if not repos:
            return UNKNOWN
        return repos == {TRAEFIK}

    def is_traefik(self, w: Workload) -> Any:
        """For reading Traefik configuration: the image is Traefik, or the command runs traefik."""
        by_image = self.image_is_traefik(w)
        if by_image is True:
            return True
        if w.argv and isinstance(w.argv[0], str) and w.argv[0].rsplit("/", 1)[-1] == "traefik":
            return True
        return by_image

    def edge_status(self, w: Workload) -> tuple[Any, str]:
        """(True | False | UNKNOWN, reason). True only for a Traefik workload labelled edge."""
        role = w.role()
        if is_unknown(role):
            return UNKNOWN, f"its labels ({w.label_sources[0][0]}) are unknown at preview"
        if role != "edge":
            return False, "it is not labelled encrypted-platform.role=edge"
        traefik = self.image_is_traefik(w)
        if is_unknown(traefik):
            return UNKNOWN, f"it is labelled edge but its image ({w.image_field}) is unknown at preview"
        if traefik is not True:
            images = ", ".join(self.image(w).references) or "?"
            return False, f"it is labelled edge but does not run Traefik (image {images})"
        return True, "Traefik labelled edge"

    def edges(self) -> list[Workload]:
        return [w for w in self.model.fact(workloads_of) if self.edge_status(w)[0] is True]
