"""shellcheck over every shell script in the repository and over every rendered program."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from components.luks_scripts import PROGRAMS, render_program, volume_spec
from components.settings import parse_settings

REPO = Path(__file__).resolve().parents[2]
SHELLCHECK = shutil.which("shellcheck")


def repository_scripts() -> list[Path]:
    tracked = subprocess.run(
        ["git", "ls-files", "*.sh", ".ci/run"], cwd=REPO, capture_output=True, text=True, check=True
    )
    files = {REPO / line for line in tracked.stdout.split()}
    files |= set((REPO / "components" / "scripts").rglob("*.sh"))
    return sorted(p for p in files if p.exists())


@pytest.mark.needs("shellcheck")
def test_shellcheck_is_installed() -> None:
    assert SHELLCHECK, "shellcheck is missing: run scripts/install-test-deps.sh"


@pytest.mark.needs("shellcheck")
@pytest.mark.parametrize("script", repository_scripts(), ids=lambda p: str(p.relative_to(REPO)))
def test_script_is_shellcheck_clean(script: Path) -> None:
    result = subprocess.run(
        [SHELLCHECK or "shellcheck", "-x", "-s", "bash", str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.needs("shellcheck")
@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("backing", ["file", "device"])
def test_rendered_program_is_shellcheck_clean(program: str, backing: str, tmp_path: Path) -> None:
    volume = {"backing": "device", "device": "/dev/disk/by-id/virtio-app-db"} if backing == "device" else {}
    settings = parse_settings({"volumes": {"app-db": volume}})
    spec = volume_spec("app-db", settings.volumes["app-db"], settings.encryption, project="p", stack="s")
    path = tmp_path / f"{program}.sh"
    path.write_text(render_program(program, spec))
    result = subprocess.run([SHELLCHECK or "shellcheck", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_scripts_use_strict_mode() -> None:
    for script in repository_scripts():
        text = script.read_text()
        if text.startswith("#!"):
            assert "set -euo pipefail" in text, f"{script} lacks set -euo pipefail"
        else:
            assert text.startswith("# shellcheck shell=bash"), f"{script}: library without shell directive"
