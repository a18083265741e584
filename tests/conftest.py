"""Test tiers: every test under tests/<tier>/ gets the pytest marker <tier>, so
`pytest -m unit` runs the fast tier and plain `pytest` runs them all (what CI does)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TIERS = ("unit", "host", "vm", "docker", "e2e", "policy", "edge")
_TIER_MARKER = {"edge": "host"}  # the edge lab runs real binaries on this host


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, _TIER_MARKER.get(parts[0], parts[0])))
