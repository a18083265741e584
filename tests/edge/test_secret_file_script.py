"""The programs of SecretFile, VolumeFile and VolumeDirectory (components/scripts/secret_file) run for real by bash as root, each in
its own mount namespace where a tmpfs stands in for the unlocked LUKS filesystem: its source is
the /dev/mapper path the program requires (this host has no device-mapper; the VM tier runs the
same programs on real dm-crypt)."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.at_rest.secret_file import VolumeFileSpec, render_program

SECRET = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg-test-only\n-----END PRIVATE KEY-----\n"


def spec(root: Path, **overrides: Any) -> VolumeFileSpec:
    values = {
        "name": "edge-tls-key",
        "mount": str(root / "mnt"),
        "mapper": "ep-config-secrets",
        "base_dir": str(root / "mnt" / "binds"),
        "relative_path": "tls/edge.key",
        "owner": "65532:65532",
        "mode": "0400",
    }
    values.update(overrides)
    return VolumeFileSpec(**values)  # type: ignore[arg-type]


def run(
    program: str, spec_: VolumeFileSpec, tmp_path: Path, *, stdin: str = "", mount_source: str | None
) -> subprocess.CompletedProcess[str]:
    """Runs a rendered program in a private mount namespace. With `mount_source`, a tmpfs with
    that source is mounted on the volume's mount point first."""
    script = tmp_path / f"{program}.sh"
    script.write_text(render_program(program, spec_))
    Path(spec_.mount).mkdir(parents=True, exist_ok=True)
    setup = ""
    if mount_source:
        setup = f"mount -t tmpfs -o size=4m {shlex.quote(mount_source)} {shlex.quote(spec_.mount)} && "
    # Keep the result visible to the test: copy the volume's tree out before the namespace ends.
    export = f"; status=$?; cp -a {shlex.quote(spec_.mount)}/. {shlex.quote(str(tmp_path / 'seen'))}/ 2>/dev/null; exit $status"
    (tmp_path / "seen").mkdir(exist_ok=True)
    command = f"{setup}bash {shlex.quote(str(script))}{export}"
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", command],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_writes_the_secret_from_stdin_with_owner_and_mode(tmp_path: Path) -> None:
    s = spec(tmp_path)
    result = run("install", s, tmp_path, stdin=SECRET, mount_source="/dev/mapper/ep-config-secrets")
    assert result.returncode == 0, result.stderr
    written = tmp_path / "seen" / "binds" / "tls" / "edge.key"
    assert written.read_text() == SECRET
    info = written.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65532, 65532, 0o400)
    directory = written.parent.stat()
    assert (directory.st_uid, stat.S_IMODE(directory.st_mode)) == (65532, 0o700)
    assert [p.name for p in written.parent.iterdir()] == ["edge.key"]  # no temporary file left
    assert SECRET.splitlines()[1] not in result.stderr + result.stdout
    assert SECRET.splitlines()[1] not in render_program("install", s)


def test_refuses_when_the_volume_is_not_mounted(tmp_path: Path) -> None:
    s = spec(tmp_path)
    Path(s.base_dir).mkdir(parents=True)  # a directory on the bare, unencrypted mount point
    result = run("install", s, tmp_path, stdin=SECRET, mount_source=None)
    assert result.returncode != 0
    assert "refusing to write" in result.stderr
    assert not (Path(s.base_dir) / "tls").exists()


def test_refuses_a_filesystem_that_is_not_the_volumes_mapping(tmp_path: Path) -> None:
    s = spec(tmp_path)
    result = run("install", s, tmp_path, stdin=SECRET, mount_source="/dev/mapper/ep-someone-else")
    assert result.returncode != 0
    assert "not on /dev/mapper/ep-config-secrets" in result.stderr
    assert not (tmp_path / "seen" / "binds" / "tls" / "edge.key").exists()


def test_refuses_empty_stdin(tmp_path: Path) -> None:
    s = spec(tmp_path)
    result = run("install", s, tmp_path, stdin="", mount_source="/dev/mapper/ep-config-secrets")
    assert result.returncode != 0
    assert "no content on stdin" in result.stderr
    assert list((tmp_path / "seen" / "binds" / "tls").iterdir()) == []


def test_remove_deletes_the_file_and_tolerates_an_unmounted_volume(tmp_path: Path) -> None:
    s = spec(tmp_path)
    program = tmp_path / "both.sh"
    install, remove = tmp_path / "install.sh", tmp_path / "remove.sh"
    install.write_text(render_program("install", s))
    remove.write_text(render_program("remove", s))
    Path(s.mount).mkdir(parents=True)
    program.write_text(
        f"set -e\nmount -t tmpfs /dev/mapper/{s.mapper} {s.mount}\n"
        f"bash {install}\ntest -f {s.base_dir}/tls/edge.key\nbash {remove} </dev/null\n"
        f"test ! -e {s.base_dir}/tls/edge.key\numount {s.mount}\nbash {remove} </dev/null\n"
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", str(program)],
        input=SECRET,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "removed" in result.stderr and "nothing to remove" in result.stderr


def test_runs_as_root_only(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "the host tier runs as root (like CI)"
    s = spec(tmp_path)
    # As the Command runs it: the program text is bash's argument (so nobody needs to read tmp_path).
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "bash",
            "-c",
            render_program("install", s),
            "ep",
        ],
        input=SECRET,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "must run as root" in result.stderr


@pytest.mark.parametrize("path", ["../escape", "/abs/path", "a/./b", "a//b"])
def test_paths_outside_the_data_directory_are_rejected_before_rendering(tmp_path: Path, path: str) -> None:
    with pytest.raises(ValueError, match="relative"):
        spec(tmp_path, relative_path=path)


def test_a_plain_file_may_be_world_readable(tmp_path: Path) -> None:
    s = spec(
        tmp_path,
        relative_path="edge-config/dynamic/edge.yml",
        owner="0:0",
        mode="0444",
        dir_mode="0755",
        secret=False,
    )
    result = run("install", s, tmp_path, stdin="http: {}\n", mount_source="/dev/mapper/ep-config-secrets")
    assert result.returncode == 0, result.stderr
    written = tmp_path / "seen" / "binds" / "edge-config" / "dynamic" / "edge.yml"
    assert written.read_text() == "http: {}\n"
    assert stat.S_IMODE(written.stat().st_mode) == 0o444
    assert (
        stat.S_IMODE(written.parent.stat().st_mode)
        == stat.S_IMODE(written.parent.parent.stat().st_mode)
        == 0o755
    )


def test_secret_modes_must_be_owner_only_and_plain_modes_not_writable_by_others(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="owner-only"):
        spec(tmp_path, mode="0444")
    with pytest.raises(ValueError, match="not writable by others"):
        spec(tmp_path, mode="0666", secret=False)


def test_ensure_directory_creates_an_owned_private_directory_and_keeps_its_content(tmp_path: Path) -> None:
    s = spec(tmp_path, relative_path="edge-state", owner="65532:65532", mode="0700")
    program = tmp_path / "ensure.sh"
    program.write_text(render_program("ensure_directory", s))
    Path(s.mount).mkdir(parents=True)
    script = tmp_path / "scenario.sh"
    script.write_text(
        f"set -e\nmount -t tmpfs /dev/mapper/{s.mapper} {s.mount}\n"
        f"bash {program} </dev/null\necho kept > {s.base_dir}/edge-state/acme.json\nchmod 0755 {s.base_dir}/edge-state\n"
        f"bash {program} </dev/null\nstat -c '%u:%g %a' {s.base_dir}/edge-state\ncat {s.base_dir}/edge-state/acme.json\n"
        f"umount {s.mount}\nmkdir -p {s.base_dir}\n! bash {program} </dev/null\n"
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["65532:65532 700", "kept"]
    assert "refusing to write" in result.stderr  # unmounted: the bare directory is refused


def test_a_secrets_directory_is_owner_only_unless_root_owns_it_for_a_reader(tmp_path: Path) -> None:
    # The edge's key: a root-owned directory the edge may traverse, never write.
    spec(tmp_path, relative_path="edge-tls/edge.key", dir_owner="0:0", dir_mode="0755")
    with pytest.raises(ValueError, match="not writable by others"):
        spec(tmp_path, relative_path="edge-tls/edge.key", dir_owner="0:0", dir_mode="0775")
    with pytest.raises(ValueError, match="owner-only"):
        spec(tmp_path, relative_path="edge-tls/edge.key", dir_mode="0755")  # owned by the key's owner
    with pytest.raises(ValueError, match="uid:gid"):
        spec(tmp_path, dir_owner="root")
