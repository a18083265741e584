"""The LUKS programs against real cryptsetup on image files (header operations; the VM tier
covers open, mkfs, mount and reboots)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

from tests.support.luks_lab import (
    ensure,
    key_opens,
    loop_volume,
    luks_dump,
    make_spec,
    run_local,
    steps,
    with_source,
)

KEY1 = "k1" + "A" * 62
KEY2 = "k2" + "B" * 62
KEY3 = "k3" + "C" * 62

FORMAT_ONLY = """
ep_main() {
  ep_require_root
  ep_read_keys
  ep_prepare_backing
  local state
  state=$(ep_preflight)
  ep_format_if_needed "$state"
}
ep_main "$@"
"""

PREFLIGHT_ONLY = """
ep_preflight
"""

CONVERGE_KEYS = """
ep_read_keys
ep_converge_keys
printf '%s\\n' "${EP_ACTIONS:-none}"
"""

BACKUP_HEADER = """
ep_header_backup
printf '%s\\n' "${EP_ACTIONS:-none}"
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def spec(tmp_path: Path):
    return make_spec(root=tmp_path)


def format_volume(spec, key: str = KEY1) -> None:
    result = run_local(steps(spec, FORMAT_ONLY), stdin=key + "\n")
    assert result.returncode == 0, result.stderr


def test_format_uses_luks2_aes_xts_512_bit_argon2id(spec) -> None:
    format_volume(spec)
    dump = luks_dump(spec.source)
    assert re.search(r"^Version:\s+2$", dump, re.M)
    assert re.search(r"cipher:\s+aes-xts-plain64", dump)
    assert re.search(r"Cipher key:\s+512 bits", dump)
    assert re.search(r"PBKDF:\s+argon2id", dump)
    assert re.search(rf"^UUID:\s+{spec.uuid}$", dump, re.M)
    assert re.search(r"^Label:\s+encrypted-platform:app-db$", dump, re.M)
    assert re.search(r"^Subsystem:\s+encrypted-platform:mkfs-pending$", dump, re.M)
    assert Path(spec.source).stat().st_mode & 0o777 == 0o600
    assert key_opens(spec.source, KEY1)
    assert not key_opens(spec.source, KEY2)


def test_default_kdf_is_argon2id_benchmarked_by_cryptsetup(tmp_path: Path) -> None:
    spec = make_spec(root=tmp_path, encryption={"kdf": {"pbkdf": "argon2id"}})
    assert spec.pbkdf_iterations is None and spec.pbkdf_memory_kib is None
    format_volume(spec)
    dump = luks_dump(spec.source)
    assert re.search(r"PBKDF:\s+argon2id", dump)
    memory = int(re.search(r"Memory:\s+(\d+)", dump).group(1))
    assert memory > 32768, "cryptsetup's benchmark picks a real memory cost"


def test_a_second_run_recognises_its_own_device_and_changes_nothing(spec) -> None:
    format_volume(spec)
    before = sha256(Path(spec.source))
    result = run_local(steps(spec, PREFLIGHT_ONLY))
    assert result.returncode == 0 and result.stdout.strip() == "ours", result.stderr
    format_volume(spec)
    assert sha256(Path(spec.source)) == before


def ext4_image_with_data(path: Path, tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "customers.csv").write_text("id,name\n1,Ada\n" * 1000)
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(content), str(path), "64M"], check=True)


def refuses(spec, path: Path, *expected: str) -> None:
    before = sha256(path)
    result = run_local(ensure(spec), stdin=KEY1 + "\n")
    assert result.returncode != 0
    assert "refusing to touch" in result.stderr, result.stderr
    for word in expected:
        assert word in result.stderr, result.stderr
    assert "Nothing was changed" in result.stderr or "did not create" in result.stderr
    assert sha256(path) == before, "the device was modified"
    assert "formatting" not in result.stderr


def test_preflight_refuses_an_ext4_image_holding_data(tmp_path: Path) -> None:
    image = tmp_path / "data.img"
    ext4_image_with_data(image, tmp_path)
    spec = with_source(make_spec(root=tmp_path), image)
    refuses(spec, image, "ext4")


def test_preflight_refuses_a_foreign_luks_image(tmp_path: Path) -> None:
    image = tmp_path / "foreign.img"
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
    subprocess.run(
        [
            "cryptsetup",
            "luksFormat",
            "--batch-mode",
            "--type",
            "luks2",
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--key-file=-",
            str(image),
        ],
        input=b"someone else's key",
        check=True,
    )
    spec = with_source(make_spec(root=tmp_path), image)
    refuses(spec, image, "did not create")
    assert key_opens(image, "someone else's key")


def test_preflight_refuses_a_luks_image_of_another_stack(tmp_path: Path) -> None:
    other = make_spec(root=tmp_path, stack="other-stack")
    format_volume(other)
    mine = with_source(make_spec(root=tmp_path), other.source)
    assert mine.uuid != other.uuid
    refuses(mine, Path(other.source), "did not create")


@pytest.mark.parametrize("label", ["dos", "gpt"])
def test_preflight_refuses_a_partition_table(tmp_path: Path, label: str) -> None:
    image = tmp_path / f"{label}.img"
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
    subprocess.run(["sfdisk", "--quiet", str(image)], input=f"label: {label}\n,32M\n".encode(), check=True)
    spec = with_source(make_spec(root=tmp_path), image)
    refuses(spec, image, label)


def test_preflight_refuses_unknown_data_without_a_signature(tmp_path: Path) -> None:
    image = tmp_path / "raw.img"
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
    with image.open("r+b") as handle:
        handle.seek(4096)
        handle.write(os.urandom(8192))
    spec = with_source(make_spec(root=tmp_path), image)
    refuses(spec, image, "not blank")


def test_device_backing_on_a_loop_device(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    ext4_image_with_data(image, tmp_path)
    try:
        loop = subprocess.run(
            ["losetup", "--find", "--show", str(image)], capture_output=True, text=True, check=True
        ).stdout.strip()
    except subprocess.CalledProcessError as error:
        pytest.fail(f"loop devices are needed for device backing tests: {error.stderr}")
    try:
        spec = make_spec(root=tmp_path, volume=loop_volume(loop))
        refuses(spec, image, "ext4")
        subprocess.run(["wipefs", "--all", "--quiet", loop], check=True)
        subprocess.run(["dd", "if=/dev/zero", f"of={loop}", "bs=1M", "count=16", "status=none"], check=True)
        format_volume(spec)
        assert re.search(rf"^UUID:\s+{spec.uuid}$", luks_dump(loop), re.M)
    finally:
        subprocess.run(["losetup", "--detach", loop], check=False)


def test_rotation_adds_the_new_key_and_removes_the_old(spec) -> None:
    format_volume(spec, KEY1)
    result = run_local(steps(spec, CONVERGE_KEYS), stdin=f"{KEY2}\n{KEY1}\n")
    assert result.returncode == 0, result.stderr
    assert "rotated" in result.stdout.strip().split(",")
    assert key_opens(spec.source, KEY2)
    assert not key_opens(spec.source, KEY1), "the old passphrase must be rejected"
    assert len(re.findall(r"^\s+\d+: luks2$", luks_dump(spec.source), re.M)) == 1
    # Running it again changes nothing.
    before = sha256(Path(spec.source))
    again = run_local(steps(spec, CONVERGE_KEYS), stdin=f"{KEY2}\n{KEY1}\n")
    assert again.returncode == 0 and again.stdout.strip() == "none", again.stderr
    assert sha256(Path(spec.source)) == before


def test_rotation_interrupted_after_adding_the_new_key_is_completed(spec) -> None:
    format_volume(spec, KEY1)
    subprocess.run(
        [
            "bash",
            "-c",
            "cryptsetup luksAddKey --batch-mode --pbkdf argon2id --pbkdf-memory 32768 "
            '--pbkdf-force-iterations 4 --key-file <(printf %s "$1") "$3" <(printf %s "$2")',
            "add",
            KEY1,
            KEY2,
            spec.source,
        ],
        check=True,
    )
    assert key_opens(spec.source, KEY1) and key_opens(spec.source, KEY2)
    result = run_local(steps(spec, CONVERGE_KEYS), stdin=f"{KEY2}\n{KEY1}\n")
    assert result.returncode == 0 and "rotated" in result.stdout.strip().split(","), result.stderr
    assert key_opens(spec.source, KEY2) and not key_opens(spec.source, KEY1)


def test_skipping_a_key_version_fails_without_touching_the_header(spec) -> None:
    format_volume(spec, KEY1)
    before = sha256(Path(spec.source))
    result = run_local(steps(spec, CONVERGE_KEYS), stdin=f"{KEY3}\n{KEY2}\n")
    assert result.returncode != 0
    assert "one step at a time" in result.stderr
    assert sha256(Path(spec.source)) == before
    assert key_opens(spec.source, KEY1)


def test_header_backup_is_written_once_per_distinct_header_and_restores(spec) -> None:
    format_volume(spec, KEY1)
    first = run_local(steps(spec, BACKUP_HEADER))
    assert first.returncode == 0 and first.stdout.strip() == "header-backup", first.stderr
    directory = Path(spec.header_backup_dir) / spec.volume
    assert directory.stat().st_mode & 0o777 == 0o700
    latest = directory / "latest"
    assert latest.is_symlink() and latest.resolve().stat().st_mode & 0o777 == 0o400
    again = run_local(steps(spec, BACKUP_HEADER))
    assert again.stdout.strip() == "none"
    assert len(list(directory.glob("*.luks-header"))) == 1

    # After a rotation the header differs: a second backup, and "latest" follows it.
    assert run_local(steps(spec, CONVERGE_KEYS), stdin=f"{KEY2}\n{KEY1}\n").returncode == 0
    assert run_local(steps(spec, BACKUP_HEADER)).stdout.strip() == "header-backup"
    assert len(list(directory.glob("*.luks-header"))) == 2

    # The documented restore (README): erase every key slot, then restore the latest backup.
    subprocess.run(["cryptsetup", "erase", "--batch-mode", spec.source], check=True)
    assert not key_opens(spec.source, KEY2)
    subprocess.run(
        ["cryptsetup", "luksHeaderRestore", "--batch-mode", spec.source, "--header-backup-file", str(latest)],
        check=True,
    )
    assert key_opens(spec.source, KEY2)
    assert not key_opens(spec.source, KEY1)


class ProcessWatcher:
    """Samples every process's argv and environment while a program runs."""

    def __init__(self, needles: list[str]) -> None:
        self.needles = [n.encode() for n in needles]
        self.seen: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = str(os.getpid())
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or pid == me:
                    continue
                for part in ("cmdline", "environ"):
                    try:
                        data = Path(f"/proc/{pid}/{part}").read_bytes()
                    except OSError:
                        continue
                    for needle in self.needles:
                        if needle in data:
                            self.seen.append(f"{pid}/{part}")
            self.samples += 1

    def __enter__(self) -> ProcessWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_keys_never_appear_in_argv_environment_or_output(tmp_path: Path) -> None:
    # A slower KDF keeps cryptsetup running long enough to be sampled many times.
    spec = make_spec(
        root=tmp_path,
        encryption={"kdf": {"pbkdf": "argon2id", "memoryKib": 262144, "iterations": 8, "parallel": 1}},
    )
    # Eight or so 256 MiB argon2 runs: minutes on a loaded machine (a limit, not a measurement).
    with ProcessWatcher([KEY1, KEY2]) as watcher:
        formatted = run_local(steps(spec, FORMAT_ONLY), stdin=KEY1 + "\n", timeout=900)
        rotated = run_local(steps(spec, CONVERGE_KEYS), stdin=f"{KEY2}\n{KEY1}\n", timeout=900)
        full = run_local(ensure(spec), stdin=f"{KEY2}\n{KEY1}\n", timeout=900)  # stops at open here
    assert formatted.returncode == 0 and rotated.returncode == 0, formatted.stderr + rotated.stderr
    assert watcher.samples > 20
    assert watcher.seen == []
    for result in (formatted, rotated, full):
        for stream in (result.stdout, result.stderr):
            assert KEY1 not in stream and KEY2 not in stream


def test_a_changed_size_of_an_existing_volume_is_refused_before_anything_changes(spec) -> None:
    # The first run formats the image (the host has no device-mapper, so it stops at open).
    run_local(ensure(spec), stdin=KEY1 + "\n")
    image = Path(spec.source)
    assert spec.uuid in luks_dump(image)
    before = sha256(image)
    for size in (spec.size_bytes * 2, spec.size_bytes // 2):
        resized = dataclasses.replace(spec, size_bytes=size)
        result = run_local(ensure(resized), stdin=KEY1 + "\n")
        assert result.returncode != 0
        assert f"encrypted-platform:volumes.{spec.volume}.size asks for {size} bytes" in result.stderr
        assert "resize-a-volume.md" in result.stderr
        assert sha256(image) == before and image.stat().st_size == spec.size_bytes
