"""One table of image references, run through both readers of platform_rules.image_reference: the
settings (`services.<name>.image`, the prod digest requirement, `edge.image` as repository/tag/
digest) and the policy pack (which workloads run Traefik, the image-pinned-by-digest rule, as pure
logic over a stack model). Where the settings accept a reference, the pack must read the same
repository and the same pin from it."""

from __future__ import annotations

from typing import Any

import pytest
from analysis.edge import EdgeFacts
from analysis.rule import Context
from analysis.stack import CONTAINER, Resource, StackInfo, StackModel
from analysis.values import UNKNOWN
from analysis.workloads import workloads_of
from pydantic import ValidationError
from rules.advisory import image_pinned_by_digest

from components.settings import SettingsError, parse_settings
from components.settings.edge import ImageSettings
from components.settings.services import image_parts

pytestmark = pytest.mark.unit

HEX = "0123456789abcdef" * 4
PINNED = "@sha256:" + HEX

# reference, the settings accept it as services.<name>.image, the pack reads Traefik from it
# (UNKNOWN: no repository to read), the pack counts it as pinned by digest
CASES: list[tuple[str, bool, Any, bool]] = [
    ("traefik:v3.7.15", True, True, False),
    ("traefik:v3.7.15" + PINNED, True, True, True),
    ("docker.io/library/traefik:v3.1" + PINNED, True, True, True),
    ("registry.example.org:5000/mirror/traefik:v3.7.15", True, True, False),
    ("ghcr.io/open-webui/open-webui:v0.6.5", True, False, False),
    ("docker.io/library/postgres:16.4-alpine" + PINNED, True, False, True),
    ("traefik-proxy:3.1", True, False, False),
    # Readable by the pack, refused by the settings (no explicit release tag).
    ("traefik", False, True, False),
    ("traefik" + PINNED, False, True, True),
    ("traefik:latest", False, True, False),
    # No image reference at all: the pack reads neither Traefik nor a pin from it.
    ("traefik:v3.1@sha256:" + HEX[:-1], False, False, False),
    ("traefik:v3.1@sha256:" + HEX.upper(), False, False, False),
    ("Traefik:v3.1", False, False, False),
    ("traefik:v3.1\n", False, False, False),
    # A bare image ID names content: pinned, but it names no repository.
    ("sha256:" + HEX, False, UNKNOWN, True),
]


def _settings_accept(reference: str, environment: str = "dev") -> bool:
    config = {"environment": environment, "services": {"reports": {"image": reference, "port": 8000}}}
    try:
        parse_settings(config)
    except SettingsError as error:
        assert all(p.startswith("encrypted-platform:services.reports.image:") for p in error.problems), error
        return False
    return True


def _model(reference: str) -> StackModel:
    container = Resource(
        urn="urn:pulumi:dev::encrypted-platform::docker:index/container:Container::worker",
        type=CONTAINER,
        name="worker",
        props={"image": reference, "labels": [{"label": "encrypted-platform.role", "value": "edge"}]},
    )
    return StackModel([container])


def _pack_reads_traefik(reference: str) -> Any:
    model = _model(reference)
    [workload] = model.fact(workloads_of)
    return model.fact(EdgeFacts.of).image_is_traefik(workload)


def _pack_counts_pinned(reference: str) -> bool:
    model = _model(reference)
    findings = list(image_pinned_by_digest.check(Context(config={}, info=StackInfo(), model=model)))
    return not findings


@pytest.mark.parametrize(("reference", "accepted", "traefik", "pinned"), CASES, ids=[c[0] for c in CASES])
def test_settings_and_pack_read_image_references_alike(
    reference: str, accepted: bool, traefik: Any, pinned: bool
) -> None:
    assert _settings_accept(reference) is accepted
    assert _pack_reads_traefik(reference) is traefik
    assert _pack_counts_pinned(reference) is pinned
    if not accepted:
        return
    # Prod takes exactly the references the pack counts as pinned.
    assert _settings_accept(reference, "prod") is pinned
    # edge.image takes the same reference in parts exactly where the pack reads Traefik from it
    # (the pack recognises the edge by its image), and puts it back together unchanged.
    repository, tag, digest = image_parts(reference)
    try:
        edge_image = ImageSettings(repository=repository, tag=tag, digest=digest)
    except ValidationError as error:
        assert traefik is False, error
        assert "policy pack recognises the edge" in str(error)
        return
    assert traefik is True
    assert edge_image.reference == reference
