"""The import-linter contracts in pyproject.toml hold for the tree, and each one breaks when a
module breaks it (run on a copy of the packages with one offending import added)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("components", "platform_rules", "policy/rules", "policy/analysis")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'policy'}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "offending_import", "contract"),
    [
        ("policy/analysis/values.py", "import components.host", "The policy pack never imports the program"),
        (
            "policy/rules/in_transit/security_headers.py",
            "from rules.in_transit import tls_only_routes",
            "Rules never import rules",
        ),
        ("policy/analysis/stack.py", "from analysis import luks", "The stack model imports no derived fact"),
        (
            "policy/analysis/shell_reading/lexer.py",
            "from analysis import stack",
            "The readers of program text",
        ),
        ("policy/analysis/clevis_cli.py", "from analysis import stack", "The readers of program text"),
        ("components/in_transit/traefik_config.py", "import pulumi", "Pure renderers"),
        ("components/settings/storage.py", "import pulumi_docker", "Pure renderers"),
        ("platform_rules/tls_verification.py", "import analysis.values", "The shared rules import neither"),
    ],
)
def test_a_contract_breaks_when_a_module_breaks_it(
    tmp_path: Path, module: str, offending_import: str, contract: str
) -> None:
    root = copy_of_the_tree(tmp_path)
    with open(root / module, "a") as handle:
        handle.write(f"\n{offending_import}  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.rstrip().endswith("BROKEN")]
    assert len(broken) >= 1, result.stdout
    listing = result.stdout.split("Broken contracts")[1]
    assert contract in listing, result.stdout
