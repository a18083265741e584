"""`make up`'s prerequisite pass (scripts/up-dev.sh --check), run from a fresh clone as a new user
would, in a clean environment: PATH holds only basic tools and the stand-ins a case provides,
HOME is empty, and a private mount namespace hides /usr/sbin and /usr/local/sbin (where the real
cryptsetup is) and replaces /sys/module (so dm-crypt is present only when a case says so).
Each case checks every message printed for what it left out, all in one pass."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PINNED = next(
    line.removeprefix("pulumi==")
    for line in (REPO / "requirements.txt").read_text().splitlines()
    if line.startswith("pulumi==")
)
BASICS = (
    "bash", "env", "sh", "sed", "grep", "mktemp", "rm", "id", "uname", "dirname", "cat", "sort", "tr",
    "head", "base64", "chmod", "mkdir", "git",
)  # fmt: skip
REAL_PYTHON = "/usr/bin/python3.11"
OK = "#!/bin/sh\nexit 0\n"
FAIL = "#!/bin/sh\nexit 1\n"
OLD_PYTHON = '#!/bin/sh\ncase "$2" in *print*) echo 3.10 ;; *) exit 1 ;; esac\n'
PYTHON_WITHOUT_VENV = f'#!/bin/sh\n[ "$1" = -m ] && exit 1\nexec {REAL_PYTHON} "$@"\n'
PYTHON = f'#!/bin/sh\nexec {REAL_PYTHON} "$@"\n'
LUKS_TOOLS = ("cryptsetup", "mkfs.ext4", "wipefs", "blkid", "losetup")


def pulumi_cli(version: str) -> str:
    return f'#!/bin/sh\n[ "$1" = version ] && echo v{version}\n'


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of the committed tree, as the README's first command makes it."""
    target = tmp_path_factory.mktemp("fresh") / "encrypted-platform"
    subprocess.run(["git", "clone", "-q", str(REPO), str(target)], check=True)
    return target


def run_check(
    tmp_path: Path, clone: Path, tools: Mapping[str, str], *, dm_crypt: bool, check_only: bool = True
) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    home = tmp_path / "home"
    bin_dir.mkdir()
    home.mkdir()
    for name in BASICS:
        found = shutil.which(name)
        assert found, name
        os.symlink(found, bin_dir / name)
    for name, body in tools.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    hide = "mount -t tmpfs none /usr/sbin && mount -t tmpfs none /usr/local/sbin && mount -t tmpfs none /sys/module"
    if dm_crypt:
        hide += " && mkdir /sys/module/dm_crypt"
    flag = " --check" if check_only else ""
    script = f'{hide} && exec env -i PATH="$1" HOME="$2" bash "$3/scripts/up-dev.sh"{flag} </dev/null'
    return subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
            str(bin_dir),
            str(home),
            str(clone),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_bare_machine_gets_every_fix_in_one_pass(tmp_path: Path, clone: Path) -> None:
    result = run_check(tmp_path, clone, {"python3": OLD_PYTHON}, dm_crypt=False)
    assert result.returncode == 1
    err = result.stderr
    assert "(6 to fix)" in err, err
    assert "Docker: no docker CLI" in err and "apt-get install docker.io" in err
    assert "python3 is 3.10; 3.11 or newer is needed" in err and "PYTHON=python3.11 make up" in err
    assert "sudo: not installed" in err
    assert "LUKS tools: missing cryptsetup-bin e2fsprogs mount util-linux" in err
    assert "no dm-crypt module" in err and "host.mode: ssh" in err
    assert "Pulumi CLI: not installed, and curl" in err and "make engine" in err
    assert not (clone / ".venv").exists() and not (tmp_path / "home" / ".pulumi").exists(), (
        "a check installs nothing"
    )


def test_an_unreachable_engine_a_python_without_venv_and_no_sudo_rights(tmp_path: Path, clone: Path) -> None:
    tools = {"docker": FAIL, "python3": PYTHON_WITHOUT_VENV, "sudo": FAIL, "curl": OK}
    tools |= dict.fromkeys(LUKS_TOOLS, OK)
    result = run_check(tmp_path, clone, tools, dm_crypt=True)
    assert result.returncode == 1
    err = result.stderr
    assert "(3 to fix)" in err, err
    assert "the engine is not reachable" in err and "usermod -aG docker" in err
    assert "-m venv fails" in err and "apt-get install python3-venv" in err
    assert "'sudo -n true' fails" in err and "passwordless sudo" in err
    assert f"make up installs {PINNED} into ~/.pulumi/bin" in result.stdout
    assert f"sh -s -- --version {PINNED}" in result.stdout


def test_a_pulumi_cli_of_another_version_is_refused_with_the_command_that_fixes_it(
    tmp_path: Path, clone: Path
) -> None:
    tools = {"docker": OK, "python3": PYTHON, "sudo": OK, "curl": OK, "pulumi": pulumi_cli("3.190.0")}
    tools |= dict.fromkeys(LUKS_TOOLS, OK)
    result = run_check(tmp_path, clone, tools, dm_crypt=True)
    assert result.returncode == 1
    assert "(1 to fix)" in result.stderr, result.stderr
    assert f"is v3.190.0, but the SDK is pinned to {PINNED} (requirements.txt)" in result.stderr
    assert f"curl -fsSL https://get.pulumi.com | sh -s -- --version {PINNED}" in result.stderr


def test_a_ready_machine_passes(tmp_path: Path, clone: Path) -> None:
    tools = {"docker": OK, "python3": PYTHON, "sudo": OK, "pulumi": pulumi_cli(PINNED)}
    tools |= dict.fromkeys(LUKS_TOOLS, OK)
    result = run_check(tmp_path, clone, tools, dm_crypt=True)
    assert result.returncode == 0, result.stderr
    assert "every prerequisite is met (Pulumi CLI " in result.stdout
    assert result.stderr == ""


def test_without_a_terminal_make_up_needs_yes_before_it_installs_anything(
    tmp_path: Path, clone: Path
) -> None:
    tools = {"docker": OK, "python3": PYTHON, "sudo": OK, "pulumi": pulumi_cli(PINNED)}
    tools |= dict.fromkeys(LUKS_TOOLS, OK)
    result = run_check(tmp_path, clone, tools, dm_crypt=True, check_only=False)
    assert result.returncode == 1
    assert "this shell has no terminal: run YES=1 make up" in result.stderr
    assert not (clone / ".venv").exists() and not (clone / ".state").exists()
