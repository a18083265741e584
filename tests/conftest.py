"""Test tiers: every test under tests/<tier>/ gets the pytest marker <tier>. Plain `pytest` runs
the tiers that need only this machine (unit, host, policy: pyproject.toml's default `-m`);
`make test` names every tier (what CI runs); `pytest -m <tier>` runs one.

A tier this machine cannot run (tests/support/tiers.py says why: no root, a missing program or
Debian package, no kernel for the VMs) is skipped with that reason, and the summary names each
skipped tier. Under CI (CI=true) nothing may be skipped that way: collection fails instead,
listing every tier and what it lacks.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.support import tiers

REPO = Path(__file__).resolve().parents[1]

TIERS = ("unit", "host", "vm", "docker", "e2e", "policy", "edge")
_TIER_MARKER = {"edge": "host"}  # the edge lab runs real binaries on this host
_SKIPPED = pytest.StashKey[Counter[str]]()


def _problem(item: pytest.Item, directory: str | None) -> str | None:
    if directory:
        problem = tiers.tier_problem(directory)
        if problem:
            return f"tier {directory}: {problem}"
    for mark in item.iter_markers("needs"):
        for tool in mark.args:
            problem = tiers.tool_problem(tool)
            if problem:
                return f"needs {tool}: {problem}"
    return None


def _tier_directory(item: pytest.Item) -> str | None:
    parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
    return parts[0] if parts and parts[0] in TIERS else None


def pytest_itemcollected(item: pytest.Item) -> None:
    """Tier markers as each test is collected, so `-m` (the default selection in pyproject.toml,
    or yours) sees them."""
    directory = _tier_directory(item)
    if directory:
        item.add_marker(getattr(pytest.mark, _TIER_MARKER.get(directory, directory)))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """After `-m` deselected: a tier left out is neither skipped nor a CI failure."""
    skipped: Counter[str] = Counter()
    for item in items:
        directory = _tier_directory(item)
        problem = _problem(item, directory)
        if problem:
            skipped[problem] += 1
            item.add_marker(pytest.mark.skip(reason=problem))
    config.stash[_SKIPPED] = skipped
    if skipped and tiers.in_ci():
        lines = "\n".join(f"  {problem} ({count} tests)" for problem, count in sorted(skipped.items()))
        raise pytest.UsageError(
            f"CI=true: every tier must run, but this machine cannot run:\n{lines}\n"
            "Install what is missing (make test-deps VM=1) or run outside CI to skip them."
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    skipped = config.stash.get(_SKIPPED, Counter())
    if not skipped:
        return
    terminalreporter.section("tiers this machine cannot run (skipped)")
    for problem, count in sorted(skipped.items()):
        terminalreporter.write_line(f"{problem}: {count} tests skipped")
