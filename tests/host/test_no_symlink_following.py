"""Root never follows a path a container could have written.

The real file programs (and the LUKS data-directory step) run as root in a private mount
namespace where a tmpfs stands in for the unlocked volume (its source is the /dev/mapper path the
programs require). Symlinks are planted where a container could have put them (in a directory it
owns) or where an older layout left one; each program must refuse with a clear message, and
nothing outside the volume may be written, created, re-owned or re-moded."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from components.at_rest.luks_scripts import VOLUME_LOCK_LIBRARY
from components.at_rest.secret_file import VolumeFileSpec, render_program
from tests.support.luks_lab import make_spec, steps

SECRET = "-----BEGIN PRIVATE KEY-----\nsymlink-test-only\n-----END PRIVATE KEY-----\n"
EDGE_USER = (65532, 65532)
MAPPER = "ep-config-secrets"


def file_spec(root: Path, relative_path: str, **overrides: object) -> VolumeFileSpec:
    values: dict[str, object] = {
        "name": "edge-tls-key",
        "mount": str(root / "mnt"),
        "mapper": MAPPER,
        "base_dir": str(root / "mnt" / "binds"),
        "relative_path": relative_path,
        "owner": "65532:65532",
        "mode": "0400",
        "dir_owner": "0:0",
        "dir_mode": "0755",
    }
    values.update(overrides)
    return VolumeFileSpec(**values)  # type: ignore[arg-type]


def outside_tree(tmp_path: Path) -> Path:
    """A directory outside the volume, as a container would aim a symlink at (/etc, /root...)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kept.txt").write_text("host data\n")
    outside.chmod(0o755)
    return outside


def snapshot(path: Path) -> dict[str, tuple[int, int, int, bytes]]:
    seen = {}
    for p in [path, *sorted(path.rglob("*"))]:
        info = p.lstat()
        seen[str(p)] = (info.st_uid, info.st_gid, info.st_mode, p.read_bytes() if p.is_file() else b"")
    return seen


def run_in_volume(
    tmp_path: Path, plant: str, program: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Mounts the stand-in volume, runs `plant` (shell, as a container or an older layout would
    have left things), then the program; the volume's tree is copied to tmp_path/seen."""
    mount = tmp_path / "mnt"
    mount.mkdir(exist_ok=True)
    script = tmp_path / "program.sh"
    script.write_text(program)
    seen = tmp_path / "seen"
    scenario = "\n".join(
        [
            "set -e",
            f"mount -t tmpfs -o size=4m /dev/mapper/{MAPPER} {shlex.quote(str(mount))}",
            f"cd {shlex.quote(str(mount))}",
            plant,
            "cd /",
            "set +e",
            f"bash {shlex.quote(str(script))}",
            "status=$?",
            f"mkdir -p {shlex.quote(str(seen))} && cp -a {shlex.quote(str(mount))}/. {shlex.quote(str(seen))}/",
            "exit $status",
        ]
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", scenario],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_edge_key_goes_into_a_root_owned_directory_not_the_edges_state(tmp_path: Path) -> None:
    """The edge owns edge-state and may plant edge-state/tls -> anywhere: the key program never
    looks there, it writes binds/edge-tls/edge.key (root-owned directory)."""
    outside = outside_tree(tmp_path)
    before = snapshot(outside)
    uid, gid = EDGE_USER
    plant = (
        f"mkdir -p binds/edge-state && chown {uid}:{gid} binds/edge-state && "
        f"ln -s {shlex.quote(str(outside))} binds/edge-state/tls"
    )
    result = run_in_volume(
        tmp_path, plant, render_program("install", file_spec(tmp_path, "edge-tls/edge.key")), SECRET
    )
    assert result.returncode == 0, result.stderr
    key = tmp_path / "seen" / "binds" / "edge-tls" / "edge.key"
    assert key.read_text() == SECRET
    directory = key.parent.stat()
    assert (directory.st_uid, stat.S_IMODE(directory.st_mode)) == (0, 0o755)
    assert snapshot(outside) == before


@pytest.mark.parametrize(
    ("plant", "relative_path", "reason"),
    [
        # the key's own directory
        (
            "mkdir -p binds && ln -s OUTSIDE binds/edge-tls",
            "edge-tls/edge.key",
            "refusing to follow the symlink",
        ),
        # the base directory
        ("ln -s OUTSIDE binds", "edge-tls/edge.key", "refusing to follow the symlink"),
        # the old layout: the key inside the edge's writable state (a container-owned directory)
        (
            "mkdir -p binds/edge-state && chown 65532:65532 binds/edge-state && ln -s OUTSIDE binds/edge-state/tls",
            "edge-state/tls/edge.key",
            "owned by 65532:65532",
        ),
    ],
    ids=["key-directory", "base-directory", "inside-the-edges-state"],
)
def test_installing_through_a_planted_symlink_is_refused(
    tmp_path: Path, plant: str, relative_path: str, reason: str
) -> None:
    outside = outside_tree(tmp_path)
    before = snapshot(outside)
    spec = file_spec(tmp_path, relative_path)
    result = run_in_volume(
        tmp_path, plant.replace("OUTSIDE", shlex.quote(str(outside))), render_program("install", spec), SECRET
    )
    assert result.returncode != 0
    assert reason in result.stderr, result.stderr
    assert snapshot(outside) == before, "root wrote, chowned or chmodded outside the volume"


def test_a_directory_for_a_container_is_not_created_through_a_symlink(tmp_path: Path) -> None:
    """The logs volume's observability service owns its data directory; the edge's log directory
    lives below the root-owned binds directory. One planted there anyway is refused."""
    outside = outside_tree(tmp_path)
    before = snapshot(outside)
    spec = file_spec(tmp_path, "edge", owner="65532:65532", mode="0700", dir_mode="0700", dir_owner=None)
    plant = f"mkdir -p binds && ln -s {shlex.quote(str(outside))} binds/edge"
    result = run_in_volume(tmp_path, plant, render_program("ensure_directory", spec))
    assert result.returncode != 0
    assert "refusing to follow the symlink" in result.stderr, result.stderr
    assert snapshot(outside) == before, "root re-owned a directory outside the volume"


def test_an_intermediate_directory_a_container_owns_is_refused(tmp_path: Path) -> None:
    uid, gid = EDGE_USER
    spec = file_spec(tmp_path, "services/app/password", owner="1000:1000", dir_owner=None, dir_mode="0700")
    plant = f"mkdir -p binds/services && chown {uid}:{gid} binds/services"
    result = run_in_volume(tmp_path, plant, render_program("install", spec), "secret\n")
    assert result.returncode != 0
    assert "must be 0:0" in result.stderr, result.stderr
    assert not (tmp_path / "seen" / "binds" / "services" / "app").exists()


def test_a_symlink_in_place_of_the_file_is_not_replaced(tmp_path: Path) -> None:
    outside = outside_tree(tmp_path)
    before = snapshot(outside)
    spec = file_spec(tmp_path, "edge-tls/edge.key")
    plant = f"mkdir -p binds/edge-tls && chmod 0755 binds/edge-tls && ln -s {shlex.quote(str(outside))}/kept.txt binds/edge-tls/edge.key"
    result = run_in_volume(tmp_path, plant, render_program("install", spec), SECRET)
    assert result.returncode != 0 and "not a regular file" in result.stderr, result.stderr
    assert snapshot(outside) == before


def test_remove_does_not_delete_through_a_planted_symlink(tmp_path: Path) -> None:
    outside = outside_tree(tmp_path)
    (outside / "edge.key").write_text("someone else's file\n")
    before = snapshot(outside)
    spec = file_spec(tmp_path, "edge-tls/edge.key")
    plant = f"mkdir -p binds && ln -s {shlex.quote(str(outside))} binds/edge-tls"
    result = run_in_volume(tmp_path, plant, render_program("remove", spec))
    assert result.returncode != 0
    assert "refusing to follow the symlink" in result.stderr, result.stderr
    assert snapshot(outside) == before


def test_the_luks_data_directory_is_not_followed(tmp_path: Path) -> None:
    """The data directory sits in the volume's root directory (root-owned, bound by no
    container); one replaced by a symlink anyway is refused before chown/chmod."""
    outside = outside_tree(tmp_path)
    before = snapshot(outside)
    spec = make_spec(root=tmp_path / "luks", volume={"size": "64MiB", "dataOwner": "1000:1000"})
    Path(spec.mount).mkdir(parents=True)
    program = tmp_path / "prepare.sh"
    program.write_text(steps(spec, "ep_prepare_data_dir\n"))
    scenario = (
        f"set -e\nmount -t tmpfs /dev/mapper/{spec.mapper} {shlex.quote(spec.mount)}\n"
        f"ln -s {shlex.quote(str(outside))} {shlex.quote(spec.data_dir)}\n"
        f"bash {shlex.quote(str(program))}\n"
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", scenario],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to follow the symlink" in result.stderr, result.stderr
    assert snapshot(outside) == before


@pytest.mark.parametrize("planted", ["symlink", "not-root-owned"])
def test_the_lock_directory_is_never_followed_or_shared(tmp_path: Path, planted: str) -> None:
    """The volume lock lives in a root-only directory; one planted as a symlink (or created by
    someone else) is refused before any lock file is created through it."""
    outside = outside_tree(tmp_path)
    before = snapshot(outside)
    parent = tmp_path / "run-encrypted-platform"
    if planted == "symlink":
        parent.symlink_to(outside)
    else:
        parent.mkdir()
        os.chown(parent, *EDGE_USER)
    program = (
        VOLUME_LOCK_LIBRARY.read_text()
        + f"\nEP_LOCK_PARENT={shlex.quote(str(parent))}\nEP_LOCK_DIR=$EP_LOCK_PARENT/locks\n"
        + "ep_lock_volume ep-app-db\necho locked\n"
    )
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "locked" not in result.stdout
    assert "must be a directory owned by root, not a symlink" in result.stderr, result.stderr
    assert snapshot(outside) == before


def test_programs_starting_together_all_create_or_find_the_lock_directory(tmp_path: Path) -> None:
    """Independent volumes' programs start at the same time (the engine runs them concurrently):
    each must find or create the lock directories, none may fail because another one just made
    them."""
    parent = tmp_path / "run-encrypted-platform"
    start = tmp_path / "start"
    program = (
        "set -euo pipefail\n"  # as every rendered program runs
        + VOLUME_LOCK_LIBRARY.read_text()
        + f"\nEP_LOCK_PARENT={shlex.quote(str(parent))}\nEP_LOCK_DIR=$EP_LOCK_PARENT/locks\n"
        # Everyone waits at the start line, then all go at once.
        + f"while [ ! -e {shlex.quote(str(start))} ]; do :; done\n"
        + 'ep_lock_volume "ep-v$1"\necho locked\n'
    )
    # A slow mkdir (as under emulation or load) holds the window between looking and creating open.
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "mkdir").write_text('#!/bin/sh\nsleep 0.3\nexec /bin/mkdir "$@"\n')
    (slow / "mkdir").chmod(0o755)
    env = {**os.environ, "PATH": f"{slow}:{os.environ['PATH']}"}
    runs = [
        subprocess.Popen(
            ["bash", "-c", program, "lock", str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(16)
    ]
    start.touch()
    results = [(run.wait(timeout=120), *run.communicate()) for run in runs]
    assert all(code == 0 and out == "locked\n" for code, out, _ in results), [r for r in results if r[0]]
    assert (
        stat.S_IMODE(parent.stat().st_mode) == 0o700
        and stat.S_IMODE((parent / "locks").stat().st_mode) == 0o700
    )
