"""`make test` on a machine that lacks something: the tier that needs it is skipped and named with
the reason, and under CI=true the run fails before any test instead; a tier the selection leaves
out (plain `pytest` selects unit, host and policy) is neither. The machine is made to
lack qemu and shellcheck in a private mount namespace (/dev/null bound over the programs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HIDDEN = [shutil.which("qemu-system-x86_64"), shutil.which("shellcheck")]
TESTS = ["tests/vm/test_vmlab.py", "tests/unit/test_swarm_preflight.py"]


def make_test_selection() -> str:
    """The `-m` that `make test` passes (the Makefile's ALL_TIERS): plain pytest selects fewer."""
    for line in (REPO / "Makefile").read_text().splitlines():
        if line.startswith("ALL_TIERS :="):
            return line.split(":=", 1)[1].strip()
    raise AssertionError("Makefile has no ALL_TIERS")


def run_hiding(
    programs: list[str | None], *, ci: bool, selection: str | None
) -> subprocess.CompletedProcess[str]:
    """pytest over TESTS in a mount namespace where `programs` are /dev/null; `selection` is the
    `-m` (None: pyproject.toml's default, as plain `pytest` runs)."""
    assert all(programs), "this test hides real programs: the host tier has them"
    hide = " && ".join(f"mount --bind /dev/null {path}" for path in programs)
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": "true"} if ci else {})
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    pytest += ["-m", selection] if selection is not None else []
    script = f'{hide} && exec "$@"'
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *pytest, *TESTS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def run_without_qemu_and_shellcheck(*, ci: bool) -> subprocess.CompletedProcess[str]:
    return run_hiding(HIDDEN, ci=ci, selection=make_test_selection())


def test_a_tier_the_machine_cannot_run_is_skipped_and_named() -> None:
    result = run_without_qemu_and_shellcheck(ci=False)
    assert result.returncode == 0, result.stdout[-3000:]
    out = result.stdout
    assert "tiers this machine cannot run (skipped)" in out
    assert "tier vm: qemu-system-x86_64 not found (make test-deps):" in out
    assert "needs shellcheck: shellcheck not found (make test-deps): 1 tests skipped" in out
    assert " passed" in out.splitlines()[-1], "the rest of the selection still runs"


def test_under_ci_nothing_may_be_skipped() -> None:
    result = run_without_qemu_and_shellcheck(ci=True)
    assert result.returncode == 4, result.stdout[-3000:]
    text = result.stdout + result.stderr
    assert "CI=true: every tier must run, but this machine cannot run:" in text
    assert "tier vm: qemu-system-x86_64 not found" in text and "needs shellcheck" in text
    assert " passed" not in text, "no test runs"


def test_a_tier_the_selection_leaves_out_is_neither_skipped_nor_a_ci_failure() -> None:
    """Plain pytest (the default -m of pyproject.toml) leaves the vm tier out: under CI=true on a
    machine without qemu, the selected tests still run."""
    result = run_hiding(HIDDEN[:1], ci=True, selection=None)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "deselected" in result.stdout.splitlines()[-1] and " passed" in result.stdout.splitlines()[-1]
    assert "cannot run" not in result.stdout
