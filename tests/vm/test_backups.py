"""Encrypted backups for real: a Docker host in a qemu VM with three LUKS2 volumes (app-db under a
real PostgreSQL, documents written by a container, config-secrets holding the repository
password), backed up by the installed host tool to a restic repository on another disk of the VM.

The programs are exactly what the component renders (backup_spec from the settings and the
volumes' LUKS specs), piped over SSH as the component's remote Command runs them. The tests run
in order on one VM and build on each other: install, write data through the services, back up,
scan the backup disk's raw bytes, destroy app-db's device, restore both volumes, the drill, and a
wrong password. How little a small change adds (restic's deduplication of our snapshots) needs no
dm-crypt: tests/host/test_backup_programs.py proves it on image files. Timings are printed and
written to .cache/backup-timings.json (never asserted).
"""

from __future__ import annotations

import base64
import json
import secrets
import shlex
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from components.at_rest.backup_scripts import (
    TOOL_NAME,
    BackupSpec,
    backup_spec,
    render_install_program,
    render_uninstall_program,
)
from components.at_rest.luks_scripts import LuksVolumeSpec, render_program, volume_spec
from components.at_rest.secret_file import VolumeFileSpec
from components.at_rest.secret_file import render_program as render_file_program
from components.settings import StackSettings, parse_settings
from components.settings.backups import backup_volume_names
from tests.support.luks_lab import FAST_KDF, command_line
from tests.support.vmlab.assets import POSTGRES_IMAGE, PYTHON_STANDIN_IMAGE
from tests.support.vmlab.fixtures import VMFactory
from tests.support.vmlab.machine import VM

REPO = Path(__file__).resolve().parents[2]
STACK = "backup-lab"
PROJECT = "encrypted-platform"
TOOL = f"/usr/local/sbin/{TOOL_NAME}"
BACKUP_MOUNT = "/mnt/backup"
REPOSITORY = f"{BACKUP_MOUNT}/restic"
PASSWORD = secrets.token_hex(24)
KEYS = {name: secrets.token_hex(32) for name in ("app-db", "documents", "config-secrets")}
ROW_MARKER = "ROW-SECRET-" + secrets.token_hex(12)
FILE_MARKER = "DOCUMENT-SECRET-" + secrets.token_hex(12)
ROWS = 2000
PSQL = "psql -h /var/run/postgresql -U platform -d platform -X -At -v ON_ERROR_STOP=1 -c"
TIMINGS: dict[str, float] = {}
TIMINGS_FILE = REPO / ".cache" / "backup-timings.json"

SETTINGS: StackSettings = parse_settings(
    {
        "encryption": {"kdf": FAST_KDF},
        "volumes": {
            "app-db": {"backing": "device", "device": VM.by_id("appdb"), "dataOwner": "70:70"},
            "documents": {"backing": "device", "device": VM.by_id("docs"), "dataOwner": "1000:1000"},
            "config-secrets": {"backing": "device", "device": VM.by_id("secrets")},
        },
        "backups": {
            "enabled": True,
            "repository": {"kind": "local", "path": REPOSITORY, "otherDevice": True},
            "volumes": ["app-db", "documents"],
            "retention": {"keepDaily": 7, "keepWeekly": 4, "keepMonthly": 12},
        },
    }
)
LUKS: dict[str, LuksVolumeSpec] = {
    name: volume_spec(name, SETTINGS.volumes[name], SETTINGS.encryption, project=PROJECT, stack=STACK)
    for name in SETTINGS.volumes
}
PASSWORD_FILE_SPEC = VolumeFileSpec(
    name="backup-repository-password",
    mount=LUKS["config-secrets"].mount,
    mapper=LUKS["config-secrets"].mapper,
    luks_uuid=LUKS["config-secrets"].uuid,
    base_dir=LUKS["config-secrets"].binds_dir,
    relative_path="backup/repository-password",
    owner="0:0",
    mode="0400",
    dir_mode="0700",
)
SPEC: BackupSpec = backup_spec(
    SETTINGS.backups,
    {name: LUKS[name] for name in backup_volume_names(SETTINGS)},
    password_file=PASSWORD_FILE_SPEC.host_path,
    header_backup_dir=SETTINGS.encryption.header_backup_dir,
    stack=STACK,
)


@contextmanager
def timed(step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        TIMINGS[step] = round(time.monotonic() - started, 2)


@pytest.fixture(scope="module")
def vm(module_vm_factory: VMFactory) -> Iterator[VM]:
    machine = module_vm_factory(
        "docker",
        name="backups",
        data_disks={"appdb": "256M", "docs": "256M", "secrets": "128M", "backup": "768M"},
        memory_mb=1536,
    )
    yield machine
    TIMINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
    TIMINGS_FILE.write_text(json.dumps(TIMINGS, indent=2) + "\n")
    print("\nbackup timings (s):", json.dumps(TIMINGS, indent=2))


def run(vm: VM, program: str, stdin: str = "", *, check: bool = True, timeout: float = 600) -> str:
    """A rendered program, as the component's remote Command runs it; no key or password may show
    in what it prints."""
    result = vm.ssh(command_line(program), input=stdin, check=False, timeout=timeout)
    out, err = result.stdout.decode(), result.stderr.decode()
    for secret in (PASSWORD, *KEYS.values()):
        assert secret not in out and secret not in err, "key material in a program's output"
    if check:
        assert result.returncode == 0, err[-4000:]
    return out + err


def tool(vm: VM, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[bytes]:
    result = vm.ssh([TOOL, *args], check=False, timeout=timeout)
    err = result.stderr.decode()
    assert PASSWORD not in err and PASSWORD not in result.stdout.decode(), "the password in the tool's output"
    if check:
        assert result.returncode == 0, err[-4000:]
    return result


def guest(vm: VM, command: str, **kw) -> str:
    return vm.ssh(command, **kw).stdout.decode()


def psql(vm: VM, sql: str) -> str:
    return guest(vm, f"docker exec app-db {PSQL} {shlex.quote(sql)}").strip()


def start_postgres(vm: VM) -> None:
    guest(
        vm,
        "docker run -d --name app-db --network none --user 70:70 "
        "-e POSTGRES_USER=platform -e POSTGRES_DB=platform -e PGDATA=/var/lib/postgresql/data/pgdata "
        f"-v encrypted-platform-app-db:/var/lib/postgresql/data {POSTGRES_IMAGE}",
    )
    for _ in range(120):
        ready = vm.ssh(
            "docker exec app-db pg_isready -q -h /var/run/postgresql -U platform -d platform", check=False
        )
        if ready.returncode == 0:
            return
        time.sleep(1)
    raise AssertionError(
        "PostgreSQL did not become ready: " + guest(vm, "docker logs app-db 2>&1 | tail -20")
    )


def docker_volume(vm: VM, name: str) -> None:
    spec = LUKS[name]
    guest(
        vm,
        f"docker volume create --driver local -o type=none -o o=bind -o device={spec.data_dir} "
        f"encrypted-platform-{name} >/dev/null",
    )


def row_digest(vm: VM) -> str:
    return psql(
        vm, "SELECT count(*) || ':' || md5(string_agg(id || '=' || body, ',' ORDER BY id)) FROM notes"
    )


def document_digests(vm: VM) -> dict[str, str]:
    out = guest(
        vm, f"cd {LUKS['documents'].data_dir} && find . -type f -print0 | sort -z | xargs -0 sha256sum"
    )
    return {line.split()[1]: line.split()[0] for line in out.splitlines()}


def repository_bytes(vm: VM) -> int:
    return int(guest(vm, f"du -sb {REPOSITORY}").split()[0])


def test_1_volumes_and_the_backup_install(vm: VM) -> None:
    with timed("volumes: three LUKS2 devices created and mounted"):
        for name, spec in LUKS.items():
            run(vm, render_program("ensure", spec), KEYS[name] + "\n")
    guest(vm, f"mkfs.ext4 -q -L backup {VM.by_id('backup')} && mkdir -p {BACKUP_MOUNT}")
    guest(vm, f"mount {VM.by_id('backup')} {BACKUP_MOUNT}")
    run(vm, render_file_program("install", PASSWORD_FILE_SPEC), PASSWORD)
    with timed("install: tool, schedule, repository initialised"):
        output = run(vm, render_install_program(SPEC))
    assert guest(vm, f"test -x {TOOL} && echo yes").strip() == "yes"
    assert guest(vm, f"stat -c '%a %u:%g' {SPEC.password_file}").split() == ["400", "0:0"]
    assert guest(vm, f"test -f {REPOSITORY}/config && echo yes").strip() == "yes"
    # The VM has neither systemd nor cron: the install says the operator schedules the run.
    assert f"schedule '{TOOL} backup' daily at 02:30 yourself" in output, output
    # With a cron daemon's directory present (a host with cron), the entry schedules it.
    guest(vm, "mkdir -p /etc/cron.d")
    run(vm, render_install_program(SPEC))
    assert f"30 02 * * * root {TOOL} backup" in guest(vm, "cat /etc/cron.d/encrypted-platform-backup")
    # A second install changes nothing and never initialises the repository again.
    config = guest(vm, f"sha256sum {REPOSITORY}/config")
    run(vm, render_install_program(SPEC))
    assert guest(vm, f"sha256sum {REPOSITORY}/config") == config


def test_2_data_written_through_the_services(vm: VM) -> None:
    for name in SPEC.volumes:
        docker_volume(vm, name.name)
    start_postgres(vm)
    psql(vm, "CREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL)")
    # Constants of this module only, no input: nothing to inject.
    insert = f"INSERT INTO notes SELECT i, '{ROW_MARKER}-' || i FROM generate_series(1, {ROWS}) AS i"  # noqa: S608
    psql(vm, insert)
    assert psql(vm, "SELECT count(*) FROM notes") == str(ROWS)
    # The documents service's files: a marker text and random bytes, written by a container as
    # the service's user.
    write = (
        f"busybox mkdir -p /data/uploads && for i in $(busybox seq 1 300); do echo {FILE_MARKER}; done"
        " > /data/uploads/contract.txt && busybox head -c 8388608 /dev/urandom > /data/uploads/scan.bin"
    )
    guest(
        vm,
        "docker run --rm --network none --user 1000:1000 -v encrypted-platform-documents:/data "
        f"--entrypoint /bin/busybox {PYTHON_STANDIN_IMAGE} sh -c {shlex.quote(write)}",
    )
    assert FILE_MARKER in guest(vm, f"head -n 1 {LUKS['documents'].data_dir}/uploads/contract.txt")


def test_3_backup_pauses_the_writers_and_the_backup_disk_holds_only_ciphertext(vm: VM) -> None:
    with timed("backup: first, app-db + documents + headers"):
        result = tool(vm, "backup")
    log = result.stderr.decode()
    assert "paused 1 container(s) using encrypted-platform-app-db" in log, log
    assert "unpaused 1 container(s)" in log and "backup complete" in log, log
    assert guest(vm, "docker inspect -f '{{.State.Status}}' app-db").strip() == "running"
    snapshots = json.loads(
        guest(vm, f"restic --repo {REPOSITORY} --password-file {SPEC.password_file} snapshots --json")
    )
    assert {tag for s in snapshots for tag in s.get("tags", [])} >= {
        "volume=app-db",
        "volume=documents",
        "luks-headers",
    }
    # The repository holds at least the documents' 8 MiB of random bytes (they do not compress).
    assert repository_bytes(vm) > 8 * 1024 * 1024
    sample = guest(vm, f"head -c 4096 {LUKS['documents'].data_dir}/uploads/scan.bin | base64 -w0")
    random_block = base64.b64decode(sample)
    guest(vm, f"sync && umount {BACKUP_MOUNT} && echo 3 > /proc/sys/vm/drop_caches")
    raw = vm.data_disks["backup"].read_bytes()
    assert ROW_MARKER.encode() not in raw, "a PostgreSQL row in plaintext on the backup disk"
    assert FILE_MARKER.encode() not in raw, "a document in plaintext on the backup disk"
    assert random_block not in raw, "a document's bytes in plaintext on the backup disk"
    assert PASSWORD.encode() not in raw
    guest(vm, f"mount {VM.by_id('backup')} {BACKUP_MOUNT}")


def test_4_a_destroyed_volume_comes_back_from_the_backup_byte_for_byte(vm: VM) -> None:
    rows = row_digest(vm)
    documents = document_digests(vm)
    # The latest backup (test 3's) saw exactly this: it is what must come back.
    guest(vm, "docker stop app-db >/dev/null && docker rm app-db >/dev/null")
    guest(vm, "docker volume rm encrypted-platform-app-db encrypted-platform-documents >/dev/null")
    app_db = LUKS["app-db"]
    # Destroy app-db: close it and overwrite its header and the start of its data.
    guest(vm, f"umount {app_db.mount} && cryptsetup close {app_db.mapper}")
    guest(vm, f"dd if=/dev/zero of={app_db.source} bs=1M count=64 conv=fsync status=none")
    guest(vm, f"rm -rf {LUKS['documents'].data_dir}/uploads")
    run(vm, render_program("ensure", app_db), KEYS["app-db"] + "\n")
    assert guest(vm, f"ls -A {app_db.data_dir}").strip() == "", "a fresh, empty volume"
    for name in ("app-db", "documents"):
        docker_volume(vm, name)
        with timed(f"restore: {name}"):
            result = tool(vm, "restore", name, "latest")
        assert f"{name}: restored snapshot" in result.stderr.decode()
    start_postgres(vm)
    assert row_digest(vm) == rows
    assert document_digests(vm) == documents
    assert guest(vm, f"stat -c '%u:%g' {app_db.data_dir}/pgdata").strip() == "70:70"


def test_5_the_drill_restores_into_a_scratch_volume_and_postgresql_answers(vm: VM) -> None:
    with timed("drill: app-db + documents"):
        result = tool(vm, "drill")
    log = result.stderr.decode()
    assert "app-db: PostgreSQL" in log and "answered SELECT 1" in log, log
    assert "drill passed" in log, log
    assert guest(vm, "ls -A /var/lib/encrypted-platform/drill 2>/dev/null").strip() == ""
    assert "ep-drill" not in guest(vm, "ls /dev/mapper")


def test_6_a_wrong_password_fails_clearly_and_changes_nothing(vm: VM) -> None:
    config = guest(vm, f"sha256sum {REPOSITORY}/config")
    run(vm, render_file_program("install", PASSWORD_FILE_SPEC), secrets.token_hex(24))
    result = tool(vm, "backup", check=False)
    assert result.returncode != 0
    assert SPEC.password_file in result.stderr.decode(), result.stderr.decode()
    install = vm.ssh(command_line(render_install_program(SPEC)), check=False, timeout=600)
    assert install.returncode != 0 and "not initialised again" in install.stderr.decode()
    assert guest(vm, f"sha256sum {REPOSITORY}/config") == config
    run(vm, render_file_program("install", PASSWORD_FILE_SPEC), PASSWORD)
    tool(vm, "password-check")


def test_7_uninstall_keeps_the_repository(vm: VM) -> None:
    run(vm, render_uninstall_program(SPEC))
    assert guest(vm, f"test -e {TOOL} || echo gone").strip() == "gone"
    assert guest(vm, "test -e /etc/cron.d/encrypted-platform-backup || echo gone").strip() == "gone"
    assert guest(vm, f"test -f {REPOSITORY}/config && echo kept").strip() == "kept"
