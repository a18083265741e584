"""`make test-deps` (scripts/install-test-deps.sh) changes nothing it was not asked to change.

The real script runs in a private mount namespace (tmpfs over /etc/ssh and /usr/sbin, where it
adds its service blockers) with stand-ins for apt-get and dpkg-query on a bare PATH: the
stand-in dpkg-query answers from a list of "installed" packages, the stand-in apt-get records
each call and whether services were blocked while it installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BASICS = ("bash", "env", "sh", "sed", "grep", "cat", "rm", "tee", "chmod", "mkdir", "touch", "id", "dirname")
DPKG_QUERY = """#!/bin/sh
# dpkg-query -W -f='${Status}' PACKAGE
package=$3
grep -qx "$package" "$STANDIN_DIR/installed" || exit 1
printf 'install ok installed'
"""
APT_GET = """#!/bin/sh
printf '%s\\n' "$*" >>"$STANDIN_DIR/apt-calls"
case "$1" in
  install)
    if [ "$2" = -s ]; then cat "$STANDIN_DIR/simulation" 2>/dev/null; exit 0; fi
    blocked=""
    [ -x /usr/sbin/policy-rc.d ] && blocked="$blocked policy-rc.d"
    [ -e /etc/ssh/sshd_not_to_be_run ] && blocked="$blocked sshd_not_to_be_run"
    printf '%s\\n' "$blocked" >"$STANDIN_DIR/blocked-during-install"
    ;;
esac
"""


def packages(*groups: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (REPO / ".ci/apt-packages").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            package, _, group = line.partition(" ")
            found.setdefault(group.strip(), []).append(package)
    return found


GROUPS = packages()
BASE = [p for group, names in GROUPS.items() if group == "" or group.startswith("program=") for p in names]


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    standin: Path
    etc_ssh: list[str]
    usr_sbin: list[str]

    def apt_calls(self) -> list[str]:
        path = self.standin / "apt-calls"
        return path.read_text().splitlines() if path.exists() else []

    def installed_args(self) -> set[str]:
        (call,) = [c for c in self.apt_calls() if c.startswith("install -y")]
        return set(call.split()[4:])

    def blocked_during_install(self) -> set[str]:
        return set((self.standin / "blocked-during-install").read_text().split())


def run(
    tmp_path: Path,
    installed: Iterable[str],
    *,
    vm: bool = False,
    simulation: str = "",
    keep: Iterable[str] = (),
) -> Run:
    standin = tmp_path / "standin"
    bin_dir = tmp_path / "bin"
    standin.mkdir()
    bin_dir.mkdir()
    (standin / "installed").write_text("".join(f"{p}\n" for p in installed))
    (standin / "simulation").write_text(simulation)
    for name in BASICS:
        found = shutil.which(name)
        assert found, name
        os.symlink(found, bin_dir / name)
    for name, body in (("dpkg-query", DPKG_QUERY), ("apt-get", APT_GET)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    prepare = ["mount -t tmpfs none /etc/ssh", "mount -t tmpfs none /usr/sbin"]
    prepare += [f"touch {path} && chmod 0755 {path}" for path in keep]
    script = (
        " && ".join(prepare) + ' && { env -i PATH="$1" STANDIN_DIR="$2" VM="$3" bash "$4"; rc=$?; }'
        ' ; echo "== /etc/ssh"; ls -A /etc/ssh; echo "== /usr/sbin"; ls -A /usr/sbin; exit "$rc"'
    )
    script_path = REPO / "scripts" / "install-test-deps.sh"
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    argv += [str(bin_dir), str(standin), "1" if vm else "0", str(script_path)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    listing = result.stdout.split("== /etc/ssh\n")[1]
    etc_ssh, usr_sbin = listing.split("== /usr/sbin\n")
    return Run(result, standin, etc_ssh.split(), usr_sbin.split())


def test_a_fresh_machine_gets_every_package_but_the_kernel_with_services_blocked_meanwhile(
    tmp_path: Path,
) -> None:
    done = run(tmp_path, installed=[])
    assert done.result.returncode == 0, done.result.stderr
    assert done.installed_args() == set(BASE) | set(GROUPS["docker"])
    assert "linux-image-amd64" not in done.installed_args()
    assert "make test-deps VM=1 installs it" in done.result.stdout
    assert done.blocked_during_install() == {"policy-rc.d", "sshd_not_to_be_run"}
    assert done.etc_ssh == [] and done.usr_sbin == [], "the blockers are removed after the install"
    assert done.apt_calls()[0] == "update -qq"


def test_vm_1_adds_the_kernel(tmp_path: Path) -> None:
    done = run(tmp_path, installed=[], vm=True)
    assert done.result.returncode == 0, done.result.stderr
    assert done.installed_args() == set(BASE) | set(GROUPS["docker"]) | set(GROUPS["vm"])


def test_an_installed_docker_ce_is_never_replaced(tmp_path: Path) -> None:
    done = run(tmp_path, installed=["docker-ce", "containerd.io"])
    assert done.result.returncode == 1
    assert not done.installed_args() & set(GROUPS["docker"]), "docker.io would replace Docker CE"
    assert done.installed_args() == set(BASE), "everything else is still installed"
    assert (
        "refused: docker-ce containerd.io installed: not installing docker.io containerd runc"
        in done.result.stderr
    )


def test_an_install_that_would_remove_a_package_is_refused_whole(tmp_path: Path) -> None:
    done = run(tmp_path, installed=[], simulation="Remv nodejs-legacy [1.0]\nInst npm (9.2)\n")
    assert done.result.returncode == 1
    assert "would remove nodejs-legacy; nothing was installed" in done.result.stderr
    assert not [c for c in done.apt_calls() if c.startswith("install -y")]
    assert done.etc_ssh == [] and done.usr_sbin == []


def test_blockers_that_were_there_before_stay(tmp_path: Path) -> None:
    done = run(tmp_path, installed=[], keep=["/etc/ssh/sshd_not_to_be_run", "/usr/sbin/policy-rc.d"])
    assert done.result.returncode == 0, done.result.stderr
    assert done.etc_ssh == ["sshd_not_to_be_run"] and done.usr_sbin == ["policy-rc.d"]


@pytest.mark.parametrize("vm", [False, True])
def test_a_complete_machine_is_left_alone(tmp_path: Path, vm: bool) -> None:
    everything = [p for names in GROUPS.values() for p in names]
    done = run(tmp_path, installed=everything, vm=vm)
    assert done.result.returncode == 0, done.result.stderr
    assert done.apt_calls() == [], "not even apt-get update"
    assert "every Debian package the tests need is installed" in done.result.stdout
