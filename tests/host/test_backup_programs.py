"""The backup programs with the real restic, as root, against a local repository in a temporary
directory: what lands in the repository is ciphertext, a restore gives back every byte, a second
backup stores only what changed, a wrong password or a repository on the root disk is refused
clearly, and the containers a backup pauses are unpaused whatever happens.

The volumes are plain directories here, each with a block device node in a private mapper
directory carrying the numbers of the filesystem that holds them (the tool checks a volume's
data is on its mapping). Docker and systemctl are stubs on PATH that record their argv: pausing
real containers and the drill's scratch LUKS2 volume belong to the vm tier.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from components.at_rest.backup_scripts import (
    HEADER_BACKUP_TAG,
    BackupHostPaths,
    BackupSpec,
    BackupVolume,
    render_install_program,
    render_tool,
    render_uninstall_program,
)

pytestmark = pytest.mark.needs("restic")

MIB = 1024 * 1024
STACK = "backup-test"
PASSWORD = "correct horse battery staple " + "x" * 20
MARKER = b"EP-PLAINTEXT-MARKER-7f3a9c1e-never-in-the-repository"
VOLUMES = ("app-db", "documents")

DOCKER_STUB = """#!/usr/bin/env bash
# docker stub: records its argv; `ps` prints the ids listed in ps-<volume>; a hook runs on pause.
set -euo pipefail
stub={stub}
printf '%s\\n' "$*" >>"$stub/docker.log"
if [ "$1" = ps ]; then
  for arg in "$@"; do
    case "$arg" in volume=*) cat "$stub/ps-${{arg#volume=}}" 2>/dev/null || true ;; esac
  done
fi
if [ "$1" = pause ] && [ -x "$stub/on-pause" ]; then "$stub/on-pause"; fi
exit 0
"""
SYSTEMCTL_STUB = """#!/usr/bin/env bash
set -euo pipefail
printf '%s\\n' "$*" >>{stub}/systemctl.log
"""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@dataclass
class Lab:
    root: Path
    spec: BackupSpec
    stub: Path
    env: dict[str, str]

    @property
    def repository(self) -> Path:
        return Path(self.spec.repository)

    @property
    def tool(self) -> Path:
        return Path(self.spec.host_paths.tool)

    def data_dir(self, volume: str) -> Path:
        return next(Path(v.data_dir) for v in self.spec.volumes if v.name == volume)

    def run_program(
        self, text: str, *args: str, spec_name: str = "program"
    ) -> subprocess.CompletedProcess[str]:
        path = self.root / f"{spec_name}.sh"
        path.write_text(text)
        return subprocess.run(
            ["bash", str(path), *args], env=self.env, capture_output=True, text=True, timeout=600, check=False
        )

    def install(self, spec: BackupSpec | None = None) -> subprocess.CompletedProcess[str]:
        return self.run_program(render_install_program(spec or self.spec), spec_name="install")

    def uninstall(self) -> subprocess.CompletedProcess[str]:
        return self.run_program(render_uninstall_program(self.spec), spec_name="uninstall")

    def backup_tool(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The installed tool, as the timer or `make` runs it."""
        return subprocess.run(
            [str(self.tool), *args], env=self.env, capture_output=True, text=True, timeout=600, check=False
        )

    def restic(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["restic", "--repo", self.spec.repository, "--password-file", self.spec.password_file,
             "--cache-dir", str(self.root / "test-cache"), *args],
            capture_output=True, text=True, timeout=600, check=True,
        )  # fmt: skip

    def snapshots(self, *args: str) -> list[dict[str, Any]]:
        listing: list[dict[str, Any]] = json.loads(self.restic("snapshots", "--json", *args).stdout)
        return listing

    def docker_calls(self) -> list[str]:
        log = self.stub / "docker.log"
        return log.read_text().splitlines() if log.exists() else []

    def set_containers(self, docker_volume: str, *ids: str) -> None:
        (self.stub / f"ps-{docker_volume}").write_text("".join(f"{i}\n" for i in ids))


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def write_password(path: Path, password: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        path.chmod(0o600)
    path.write_text(password + "\n")
    os.chown(path, 0, 0)
    path.chmod(0o400)


def fill_volume(data: Path, name: str, random_bytes: int) -> None:
    (data / "sub" / "deeper").mkdir(parents=True)
    (data / "marker.txt").write_bytes(b"before " + MARKER + b" after\n")
    (data / "sub" / "notes.txt").write_bytes(f"notes of {name}\n".encode() * 200)
    (data / "sub" / "deeper" / "small.conf").write_bytes(f"setting = {name}\n".encode())
    with open(data / "random.bin", "wb") as handle:
        for _ in range(random_bytes // MIB):
            handle.write(os.urandom(MIB))
    (data / "owned-by-70").write_bytes(b"postgres-owned\n")
    os.chown(data / "owned-by-70", 70, 70)
    (data / "owned-by-70").chmod(0o600)


MakeLab = Callable[..., "Lab"]


@pytest.fixture
def make_lab(tmp_path: Path) -> MakeLab:
    def make(*, random_mib: int = 1, keep: tuple[int, int, int] = (7, 4, 12)) -> Lab:
        stub = tmp_path / "stub"
        stub.mkdir()
        (stub / "docker").write_text(DOCKER_STUB.format(stub=stub))
        (stub / "systemctl").write_text(SYSTEMCTL_STUB.format(stub=stub))
        for program in ("docker", "systemctl"):
            (stub / program).chmod(0o755)
        mapper_dir = tmp_path / "mapper"
        mapper_dir.mkdir()
        volumes = []
        for name in VOLUMES:
            mount = tmp_path / "volumes" / name
            (mount / "data").mkdir(parents=True)
            fill_volume(mount / "data", name, random_mib * MIB if name == "app-db" else MIB)
            mapper = f"ep-{name}"
            # A device node with the numbers of the filesystem that holds the volume: what the
            # tool compares the data directory's device with.
            os.mknod(mapper_dir / mapper, 0o600 | stat.S_IFBLK, os.stat(mount).st_dev)
            volumes.append(
                BackupVolume(name, str(mount / "data"), str(mount), mapper, f"encrypted-platform-{name}")
            )
        headers = tmp_path / "headers"
        headers.mkdir(mode=0o700)
        for name in VOLUMES:
            (headers / f"{name}.header").write_bytes(os.urandom(64 * 1024))
        host = tmp_path / "host"
        (host / "etc" / "cron.d").mkdir(parents=True)
        password_file = tmp_path / "secrets" / "backup" / "repository-password"
        write_password(password_file, PASSWORD)
        spec = BackupSpec(
            stack=STACK,
            repository=str(tmp_path / "repository"),
            local_other_device=False,
            password_file=str(password_file),
            volumes=tuple(volumes),
            header_backup_dir=str(headers),
            daily_at="02:30",
            keep_daily=keep[0],
            keep_weekly=keep[1],
            keep_monthly=keep[2],
            host_paths=BackupHostPaths(
                tool=str(host / "usr" / "local" / "sbin" / "encrypted-platform-backup"),
                systemd_units=str(host / "etc" / "systemd" / "system"),
                systemd_runtime=str(host / "run" / "systemd" / "system"),
                cron_dir=str(host / "etc" / "cron.d"),
                lock_dir=str(host / "run" / "encrypted-platform" / "locks"),
                cache_dir=str(host / "var" / "cache" / "restic"),
                drill_dir=str(host / "var" / "lib" / "drill"),
                mapper_dir=str(mapper_dir),
            ),
        )
        env = {"PATH": f"{stub}:{os.environ['PATH']}", "HOME": str(tmp_path), "LC_ALL": "C"}
        return Lab(tmp_path, spec, stub, env)

    return make


def test_backup_is_ciphertext_and_restores_byte_for_byte(make_lab: MakeLab) -> None:
    lab = make_lab(random_mib=64)
    originals = {name: tree_digests(lab.data_dir(name)) for name in VOLUMES}
    data_size = sum(tree_bytes(lab.data_dir(name)) for name in VOLUMES)
    ok(lab.install())
    started = time.monotonic()
    result = ok(lab.backup_tool("backup"))
    backup_seconds = time.monotonic() - started
    repository_size = tree_bytes(lab.repository)
    print(
        f"\nfirst backup: {data_size / MIB:.1f} MiB of data in {backup_seconds:.2f}s, repository {repository_size / MIB:.1f} MiB"
    )
    assert "app-db: snapshot" in result.stderr and "backup complete" in result.stderr

    # Every file of the repository, read raw: no marker, no file content (whole small files, and
    # samples of the random file).
    needles = [MARKER]
    for name in VOLUMES:
        for path in lab.data_dir(name).rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                needles += (
                    [content]
                    if len(content) <= 4096
                    else [content[i : i + 256] for i in (0, len(content) // 2, len(content) - 256)]
                )
    for path in Path(lab.spec.header_backup_dir).iterdir():
        needles.append(path.read_bytes()[:256])
    repository_files = [p for p in lab.repository.rglob("*") if p.is_file()]
    assert len(repository_files) > 5
    for path in repository_files:
        raw = path.read_bytes()
        for needle in needles:
            assert needle not in raw, f"plaintext found in {path.relative_to(lab.repository)}"

    for name in VOLUMES:
        started = time.monotonic()
        restored = ok(lab.backup_tool("restore", name, "latest"))
        restore_seconds = time.monotonic() - started
        size = tree_bytes(lab.data_dir(name))
        print(f"restore of {name}: {size / MIB:.1f} MiB in {restore_seconds:.2f}s")
        assert tree_digests(lab.data_dir(name)) == originals[name]
        mount = lab.data_dir(name).parent
        kept = [p for p in mount.iterdir() if p.name.startswith("data.before-restore.")]
        assert len(kept) == 1 and tree_digests(kept[0]) == originals[name], (
            "the data a restore replaced is kept"
        )
        assert not [p for p in mount.iterdir() if p.name.startswith("restore.")], "no staging left behind"
        assert f"{name}: restored snapshot" in restored.stderr
        owned = lab.data_dir(name) / "owned-by-70"
        facts = owned.stat()
        assert (facts.st_uid, facts.st_gid, stat.S_IMODE(facts.st_mode)) == (70, 70, 0o600)


def test_a_second_backup_after_a_small_change_stores_little(make_lab: MakeLab) -> None:
    lab = make_lab(random_mib=64)
    data_size = sum(tree_bytes(lab.data_dir(name)) for name in VOLUMES)
    ok(lab.install())
    ok(lab.backup_tool("backup"))
    before = tree_bytes(lab.repository)
    (lab.data_dir("app-db") / "sub" / "deeper" / "small.conf").write_text("setting = changed\n")
    started = time.monotonic()
    second = ok(lab.backup_tool("backup"))
    seconds = time.monotonic() - started
    growth = tree_bytes(lab.repository) - before
    added = int(second.stderr.split("app-db: snapshot", 1)[1].split(" bytes added", 1)[0].rsplit(" ", 1)[1])
    print(
        f"\nsecond backup after a small change: {seconds:.2f}s, repository {before / MIB:.2f} MiB -> "
        f"{(before + growth) / MIB:.2f} MiB (+{growth / 1024:.1f} KiB; restic: {added} bytes added for app-db) for {data_size / MIB:.1f} MiB of data"
    )
    assert growth < data_size / 10, "deduplication: only the changed file and new metadata are stored"
    assert 0 < added < data_size / 10


def test_a_wrong_password_is_refused_clearly_and_never_reinitialises(make_lab: MakeLab) -> None:
    lab = make_lab()
    ok(lab.install())
    ok(lab.backup_tool("backup"))
    repository_before = tree_digests(lab.repository)
    write_password(Path(lab.spec.password_file), "not the password")
    for args in (("password-check",), ("backup",), ("snapshots",), ("restore", "app-db", "latest")):
        result = lab.backup_tool(*args)
        assert result.returncode != 0, args
        assert f"refuses the password in {lab.spec.password_file}" in result.stderr, result.stderr
    result = lab.install()
    assert result.returncode != 0
    assert f"refuses the password in {lab.spec.password_file}" in result.stderr
    assert "not initialised again" in result.stderr
    assert "initialised the backup repository" not in result.stderr
    assert tree_digests(lab.repository) == repository_before, "the repository is untouched"


def test_a_password_file_others_may_read_is_refused(make_lab: MakeLab) -> None:
    lab = make_lab()
    Path(lab.spec.password_file).chmod(0o644)
    result = lab.install()
    assert result.returncode != 0
    assert f"refusing the repository password file {lab.spec.password_file}" in result.stderr
    assert not lab.repository.exists()


def test_backup_pauses_the_volumes_containers_and_unpauses_them(make_lab: MakeLab) -> None:
    lab = make_lab()
    lab.set_containers("encrypted-platform-app-db", "c0ffee01", "c0ffee02")
    ok(lab.install())
    ok(lab.backup_tool("backup"))
    calls = lab.docker_calls()
    assert "pause c0ffee01 c0ffee02" in calls and "unpause c0ffee01 c0ffee02" in calls
    assert calls.index("pause c0ffee01 c0ffee02") < calls.index("unpause c0ffee01 c0ffee02")
    assert "ps -q --no-trunc --filter volume=encrypted-platform-documents --filter status=running" in calls
    assert sum(call.startswith("pause") for call in calls) == 1, "documents has no running container"


def test_containers_are_unpaused_when_restic_fails(make_lab: MakeLab) -> None:
    lab = make_lab()
    lab.set_containers("encrypted-platform-app-db", "c0ffee01")
    ok(lab.install())
    # The backup disk goes away while the containers are paused: restic fails for real.
    gone = lab.root / "repository.gone"
    hook = lab.stub / "on-pause"
    hook.write_text(f"#!/bin/sh\nmv {lab.repository} {gone}\n")
    hook.chmod(0o755)
    result = lab.backup_tool("backup")
    assert result.returncode != 0
    assert "app-db: restic backup failed" in result.stderr
    assert "retention skipped" in result.stderr
    calls = lab.docker_calls()
    assert calls.index("pause c0ffee01") < calls.index("unpause c0ffee01")


def test_containers_are_unpaused_when_the_backup_is_terminated(make_lab: MakeLab) -> None:
    lab = make_lab()
    lab.set_containers("encrypted-platform-app-db", "c0ffee01")
    ok(lab.install())
    hook = lab.stub / "on-pause"
    # The stub runs as a child of the tool: TERM to its parent is TERM to the tool mid-window.
    hook.write_text('#!/bin/bash\nkill -TERM "$(ps -o ppid= -p "$PPID" | tr -d " ")"\n')
    hook.chmod(0o755)
    result = lab.backup_tool("backup")
    assert result.returncode == 143, result.stderr
    calls = lab.docker_calls()
    assert calls[-1] == "unpause c0ffee01", calls
    assert not lab.snapshots("--tag", "volume=app-db")


def test_the_header_backups_are_backed_up_with_their_tag(make_lab: MakeLab) -> None:
    lab = make_lab()
    ok(lab.install())
    ok(lab.backup_tool("backup"))
    headers = lab.snapshots("--tag", HEADER_BACKUP_TAG)
    assert [s["paths"] for s in headers] == [[lab.spec.header_backup_dir]]
    assert headers[0]["hostname"] == STACK
    volumes = {tuple(s["tags"]) for s in lab.snapshots() if s["tags"] != [HEADER_BACKUP_TAG]}
    assert volumes == {("volume=app-db",), ("volume=documents",)}
    target = lab.root / "header-restore"
    lab.restic("restore", "latest", "--tag", HEADER_BACKUP_TAG, "--target", str(target))
    assert tree_digests(target / lab.spec.header_backup_dir.lstrip("/")) == tree_digests(
        Path(lab.spec.header_backup_dir)
    )


@pytest.mark.parametrize(
    ("keep", "kept"), [((3, 0, 0), 3), ((1, 2, 0), 2)], ids=["daily-3", "daily-1-weekly-2"]
)
def test_retention_forgets_with_the_configured_keep_values(
    make_lab: MakeLab, keep: tuple[int, int, int], kept: int
) -> None:
    lab = make_lab(keep=keep)
    ok(lab.install())
    # Ten days of history, one snapshot a day, as earlier runs of the tool would have left.
    data_dir = str(lab.data_dir("app-db"))
    for days in range(10, 0, -1):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - days * 86400))
        lab.restic("backup", "--quiet", "--time", when, "--host", STACK, "--tag", "volume=app-db", data_dir)
    assert len(lab.snapshots("--tag", "volume=app-db")) == 10
    result = ok(lab.backup_tool("backup"))
    flags = " ".join(
        f"--keep-{rule} {n}" for rule, n in zip(("daily", "weekly", "monthly"), keep, strict=True) if n
    )
    assert f"retention: forget {flags} --group-by host,tags --prune" in result.stderr
    # keep-daily N: the newest of each of the last N days; keep-weekly N: of each of the last N
    # weeks. Today's run counts for both.
    assert len(lab.snapshots("--tag", "volume=app-db")) == kept
    assert len(lab.snapshots("--tag", "volume=documents")) == 1
    assert len(lab.snapshots("--tag", HEADER_BACKUP_TAG)) == 1
    ok(lab.backup_tool("backup"))
    assert len(lab.snapshots("--tag", "volume=app-db")) == kept, "a second run today replaces today's"


def test_restore_refuses_a_snapshot_of_another_volume(make_lab: MakeLab) -> None:
    lab = make_lab()
    ok(lab.install())
    ok(lab.backup_tool("backup"))
    documents = lab.snapshots("--tag", "volume=documents")[0]["id"]
    before = tree_digests(lab.data_dir("app-db"))
    for snapshot in (str(documents), str(documents)[:8]):
        result = lab.backup_tool("restore", "app-db", snapshot)
        assert result.returncode != 0
        assert f"snapshot {snapshot} is not a snapshot of volume app-db" in result.stderr
    result = lab.backup_tool("restore", "app-db", "$(touch /tmp/x)")
    assert result.returncode != 0 and "not a snapshot id" in result.stderr
    assert "unknown volume 'nope'" in lab.backup_tool("restore", "nope", "latest").stderr
    assert tree_digests(lab.data_dir("app-db")) == before
    own = lab.snapshots("--tag", "volume=app-db")[0]["id"]
    ok(lab.backup_tool("restore", "app-db", str(own)[:10]))


def test_restore_stops_and_restarts_the_volumes_containers(make_lab: MakeLab) -> None:
    lab = make_lab()
    ok(lab.install())
    ok(lab.backup_tool("backup"))
    lab.set_containers("encrypted-platform-app-db", "c0ffee01")
    ok(lab.backup_tool("restore", "app-db", "latest"))
    calls = lab.docker_calls()
    assert calls.index("stop c0ffee01") < calls.index("start c0ffee01")


def test_a_volume_that_is_not_on_its_mapping_is_not_backed_up(make_lab: MakeLab) -> None:
    lab = make_lab()
    ok(lab.install())
    (Path(lab.spec.host_paths.mapper_dir) / "ep-app-db").unlink()
    result = lab.backup_tool("backup")
    assert result.returncode != 0
    assert "volume app-db:" in result.stderr and "is the volume unlocked?" in result.stderr
    assert "backup failed for: app-db" in result.stderr
    assert not lab.snapshots("--tag", "volume=app-db")
    assert len(lab.snapshots("--tag", "volume=documents")) == 1, "the other volumes are still backed up"


def test_install_schedules_with_cron_and_uninstall_keeps_the_repository(make_lab: MakeLab) -> None:
    lab = make_lab()
    result = ok(lab.install())
    assert "initialised the backup repository" in result.stderr
    assert (lab.repository / "config").is_file()
    assert lab.tool.read_text() == render_tool(lab.spec)
    assert stat.S_IMODE(lab.tool.stat().st_mode) == 0o755
    cron = Path(lab.spec.host_paths.cron_dir) / "encrypted-platform-backup"
    assert f"30 02 * * * root {lab.tool} backup" in cron.read_text().splitlines()
    repository = tree_digests(lab.repository)
    again = ok(lab.install())
    assert (
        "initialised" not in again.stderr
        and "installed" not in again.stderr
        and "scheduled" not in again.stderr
    )
    assert tree_digests(lab.repository) == repository
    ok(lab.backup_tool("backup"))
    repository = tree_digests(lab.repository)
    result = ok(lab.uninstall())
    assert not lab.tool.exists() and not cron.exists()
    assert tree_digests(lab.repository) == repository, "uninstall never touches the repository"
    assert "its snapshots are kept" in result.stderr
    ok(lab.uninstall())


def test_install_schedules_a_systemd_timer_on_systemd_hosts(make_lab: MakeLab) -> None:
    lab = make_lab()
    Path(lab.spec.host_paths.systemd_runtime).mkdir(parents=True)
    ok(lab.install())
    units = Path(lab.spec.host_paths.systemd_units)
    service = (units / "encrypted-platform-backup.service").read_text().splitlines()
    timer = (units / "encrypted-platform-backup.timer").read_text().splitlines()
    assert f"ExecStart={lab.tool} backup" in service and "Requires=docker.service" in service
    assert "OnCalendar=*-*-* 02:30:00" in timer and "Persistent=true" in timer
    assert not (Path(lab.spec.host_paths.cron_dir) / "encrypted-platform-backup").exists()
    calls = (lab.stub / "systemctl.log").read_text().splitlines()
    assert calls == ["daemon-reload", "enable --now encrypted-platform-backup.timer"]
    ok(lab.uninstall())
    assert not list(units.iterdir())
    calls = (lab.stub / "systemctl.log").read_text().splitlines()
    assert calls[2:] == ["disable --now encrypted-platform-backup.timer", "daemon-reload"]
    assert (lab.repository / "config").is_file()


def test_a_local_repository_on_the_root_filesystem_is_refused(make_lab: MakeLab) -> None:
    lab = make_lab()
    candidates = [f"/ep-backup-test-{uuid.uuid4().hex}/repository"]  # nearest existing parent: "/"
    if os.stat(lab.root).st_dev == os.stat("/").st_dev:
        candidates.append(str(lab.root / "on-root" / "repository"))
    candidates.append(f"local:{lab.spec.volumes[0].mount}/repository")  # on a volume it backs up
    for repository in candidates:
        spec = replace(lab.spec, repository=repository, local_other_device=True)
        try:
            result = lab.install(spec)
        finally:
            if repository.startswith("/ep-backup-test-"):
                shutil.rmtree(Path(repository).parent, ignore_errors=True)
        assert result.returncode != 0, repository
        assert "backups.repository.otherDevice=true" in result.stderr, result.stderr
        assert "refusing the backup repository" in result.stderr
        assert not Path(repository.removeprefix("local:")).exists(), "nothing created"
        assert not lab.tool.exists(), "no tool, no schedule for a repository refused"
    ok(lab.install())
    tool = lab.run_program(
        render_tool(replace(lab.spec, repository=candidates[0], local_other_device=True)), "backup"
    )
    assert tool.returncode != 0 and "backups.repository.otherDevice=true" in tool.stderr
