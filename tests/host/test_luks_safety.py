"""The LUKS programs never destroy what they did not create, never interleave, and never leave a
revoked key in the boot keyfile: real cryptsetup on image files and loop devices, as root."""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from components.at_rest.luks_scripts import (
    LUKS2_HEADER_AREA_BYTES,
    LUKS_SUBSYSTEM,
    VOLUME_LOCK_LIBRARY,
    unlock_helper_text,
)
from tests.support.luks_lab import (
    command_line,
    delete,
    ensure,
    key_opens,
    loop_volume,
    luks_dump,
    make_spec,
    run_isolated,
    run_local,
    steps,
    with_source,
)

KEY1 = "k1" + "S" * 62
KEY2 = "k2" + "T" * 62
MIB = 1024 * 1024

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


def sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def blank_image(path: Path, size: int = 64 * MIB) -> Path:
    subprocess.run(["truncate", "-s", str(size), str(path)], check=True)
    return path


def ext4_at(path: Path, offset: int, tmp_path: Path) -> Path:
    """An image holding an ext4 filesystem with a file in it, starting `offset` bytes in (as a
    partition whose table was lost would)."""
    content = tmp_path / "content"
    content.mkdir(exist_ok=True)
    (content / "customers.csv").write_text("id,name\n1,Ada\n" * 500)
    filesystem = tmp_path / f"fs-{offset}.img"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(content), str(filesystem), "24M"], check=True)
    blank_image(path)
    subprocess.run(
        [
            "dd",
            f"if={filesystem}",
            f"of={path}",
            "bs=1M",
            f"seek={offset // MIB}",
            "conv=notrunc",
            "status=none",
        ],
        check=True,
    )
    # Probing only the start (what the preflight did) does not see a filesystem further in.
    assert offset == 0 or subprocess.run(["blkid", "-p", str(path)], capture_output=True).returncode != 0
    return path


def refused_untouched(spec, path: Path | str, *expected: str) -> str:
    before = sha256(path)
    result = run_local(ensure(spec), stdin=KEY1 + "\n")
    assert result.returncode != 0
    assert "refusing to touch" in result.stderr, result.stderr
    for word in expected:
        assert word in result.stderr, result.stderr
    assert "formatting" not in result.stderr
    assert sha256(path) == before, "the device was modified"
    return result.stderr


# --- a format cut off between the header and its first key slot ---

FORMAT_THEN_KEYS = """
ep_main() {
  ep_require_root
  ep_read_keys
  ep_prepare_backing
  local state
  state=$(ep_preflight)
  ep_log "preflight: $state"
  ep_format_if_needed "$state"
  ep_converge_keys
}
ep_main "$@"
"""


def cut_before_the_first_key_slot(spec) -> None:
    """What a power cut inside luksFormat leaves: luksFormat writes the header (our UUID, label and
    "mkfs pending" marker) and only then adds the first key slot."""
    assert run_local(steps(spec, FORMAT_ONLY), stdin=KEY1 + "\n").returncode == 0
    subprocess.run(["cryptsetup", "luksKillSlot", "--batch-mode", spec.source, "0"], check=True)
    assert not key_opens(spec.source, KEY1)


def test_a_format_cut_off_before_its_first_key_slot_is_formatted_again(tmp_path: Path) -> None:
    spec = make_spec(root=tmp_path)
    cut_before_the_first_key_slot(spec)
    result = run_local(steps(spec, FORMAT_THEN_KEYS), stdin=KEY1 + "\n")
    assert result.returncode == 0, result.stderr
    assert "preflight: unkeyed" in result.stderr and "formatting again" in result.stderr
    assert key_opens(spec.source, KEY1)
    again = run_local(steps(spec, FORMAT_THEN_KEYS), stdin=KEY1 + "\n")
    assert "preflight: ours" in again.stderr and "formatting" not in again.stderr, again.stderr


def test_our_finished_volume_without_key_slots_is_never_formatted_again(tmp_path: Path) -> None:
    """Past the marker a filesystem was made and data may be there; a header backup can bring the
    slots back, a new format could not."""
    spec = make_spec(root=tmp_path)
    cut_before_the_first_key_slot(spec)
    subprocess.run(
        ["cryptsetup", "config", "--label", spec.label, "--subsystem", LUKS_SUBSYSTEM, spec.source],
        check=True,
    )
    before = sha256(spec.source)
    result = run_local(steps(spec, FORMAT_THEN_KEYS), stdin=KEY1 + "\n")
    assert result.returncode != 0 and "restore a header backup" in result.stderr, result.stderr
    assert "formatting" not in result.stderr
    assert sha256(spec.source) == before


def test_a_pending_volume_whose_slot_the_key_does_not_open_is_never_formatted_again(
    tmp_path: Path,
) -> None:
    spec = make_spec(root=tmp_path)
    assert run_local(steps(spec, FORMAT_ONLY), stdin=KEY1 + "\n").returncode == 0
    before = sha256(spec.source)
    result = run_local(steps(spec, FORMAT_THEN_KEYS), stdin=KEY2 + "\n")
    assert result.returncode != 0 and "does not open" in result.stderr, result.stderr
    assert "preflight: ours" in result.stderr and "formatting" not in result.stderr
    assert sha256(spec.source) == before and key_opens(spec.source, KEY1)


# --- preflight: everything luksFormat will overwrite, and everything that holds the device ---


def test_the_checked_header_area_is_the_one_luksformat_writes(tmp_path: Path) -> None:
    spec = make_spec(root=tmp_path)
    result = run_local(steps(spec, FORMAT_ONLY), stdin=KEY1 + "\n")
    assert result.returncode == 0, result.stderr
    dump = luks_dump(spec.source)
    assert f"offset: {LUKS2_HEADER_AREA_BYTES} [bytes]" in dump
    assert "Metadata area: \t16384 [bytes]" in dump
    assert LUKS2_HEADER_AREA_BYTES == 16 * MIB


@pytest.mark.parametrize("offset_mib", [1, 2, 8])
def test_an_ext4_inside_the_header_area_is_refused(tmp_path: Path, offset_mib: int) -> None:
    image = ext4_at(tmp_path / "disk.img", offset_mib * MIB, tmp_path)
    refused_untouched(with_source(make_spec(root=tmp_path), image), image, "ext4")


def test_an_ext4_just_past_the_header_area_is_refused(tmp_path: Path) -> None:
    """Not overwritten by the header, but by the mkfs that follows: found by probing offsets."""
    image = ext4_at(tmp_path / "disk.img", 16 * MIB, tmp_path)
    message = refused_untouched(with_source(make_spec(root=tmp_path), image), image, "ext4")
    assert f"at byte {16 * MIB}" in message


@pytest.mark.parametrize("offset", [1 * MIB + 512, 8 * MIB, 16 * MIB - 4096])
def test_unknown_data_anywhere_in_the_header_area_is_refused(tmp_path: Path, offset: int) -> None:
    image = blank_image(tmp_path / "raw.img")
    with image.open("r+b") as handle:
        handle.seek(offset)
        handle.write(os.urandom(4096))
    refused_untouched(
        with_source(make_spec(root=tmp_path), image), image, "not blank", str(LUKS2_HEADER_AREA_BYTES)
    )


@pytest.fixture
def loop_device(tmp_path: Path):
    image = blank_image(tmp_path / "loop-backing.img")
    attached = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True)
    if attached.returncode != 0:
        pytest.fail(f"loop devices are needed here (losetup -f works on this host): {attached.stderr}")
    loop = attached.stdout.strip()
    try:
        yield image, loop
    finally:
        subprocess.run(["losetup", "--detach", loop], check=False)


def test_an_image_file_attached_to_a_loop_device_is_refused(tmp_path: Path, loop_device) -> None:
    image, loop = loop_device
    spec = with_source(make_spec(root=tmp_path), image)
    refused_untouched(spec, image, f"attached to {loop}")


def holder(path: str, exclusive: bool) -> subprocess.Popen[str]:
    flags = "os.O_RDONLY | os.O_EXCL" if exclusive else "os.O_RDONLY"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import os, sys, time\nfd = os.open(sys.argv[1], {flags})\nprint('held', flush=True)\ntime.sleep(300)",
            path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


@pytest.mark.parametrize("exclusive", [True, False], ids=["O_EXCL", "plain-open"])
def test_a_loop_device_held_open_by_another_process_is_refused(
    tmp_path: Path, loop_device, exclusive: bool
) -> None:
    _, loop = loop_device
    spec = make_spec(root=tmp_path, volume=loop_volume(loop))
    process = holder(loop, exclusive)
    try:
        refused_untouched(spec, loop, f"open by process {process.pid}")
    finally:
        process.kill()
        process.wait()
    # Released: the same blank device is formatted.
    result = run_local(steps(spec, FORMAT_ONLY), stdin=KEY1 + "\n")
    assert result.returncode == 0, result.stderr
    assert spec.uuid in luks_dump(loop)


def test_an_image_file_held_open_by_another_process_is_refused(tmp_path: Path) -> None:
    image = blank_image(tmp_path / "held.img")
    process = holder(str(image), exclusive=False)
    try:
        refused_untouched(
            with_source(make_spec(root=tmp_path), image), image, f"open by process {process.pid}"
        )
    finally:
        process.kill()
        process.wait()


# --- destroyDataOnDelete: ours (UUID and label) first, before any erase or wipefs ---


def foreign_luks(path: Path) -> Path:
    blank_image(path)
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
            str(path),
        ],
        input=b"someone else's key",
        check=True,
    )
    return path


def destroying(spec):
    return replace(spec, destroy_data=True)


def test_destroy_refuses_a_foreign_luks_image(tmp_path: Path) -> None:
    image = foreign_luks(tmp_path / "foreign.img")
    before = sha256(image)
    result = run_isolated(delete(destroying(with_source(make_spec(root=tmp_path), image))), tmp_path)
    assert result.returncode != 0
    assert "refusing to destroy" in result.stderr and "did not create" in result.stderr, result.stderr
    assert sha256(image) == before
    assert key_opens(image, "someone else's key")


def test_destroy_refuses_a_luks_image_of_another_stack(tmp_path: Path) -> None:
    other = make_spec(root=tmp_path, stack="other-stack")
    assert run_local(steps(other, FORMAT_ONLY), stdin=KEY1 + "\n").returncode == 0
    before = sha256(other.source)
    mine = destroying(with_source(make_spec(root=tmp_path), other.source))
    result = run_isolated(delete(mine), tmp_path)
    assert result.returncode != 0 and "refusing to destroy" in result.stderr, result.stderr
    assert sha256(other.source) == before and key_opens(other.source, KEY1)


def test_destroy_refuses_an_ext4_image_holding_data(tmp_path: Path) -> None:
    image = ext4_at(tmp_path / "data.img", 0, tmp_path)
    before = sha256(image)
    result = run_isolated(delete(destroying(with_source(make_spec(root=tmp_path), image))), tmp_path)
    assert result.returncode != 0
    assert "refusing to destroy" in result.stderr and "ext4" in result.stderr, result.stderr
    assert sha256(image) == before


def test_destroy_refuses_a_foreign_loop_device(tmp_path: Path, loop_device) -> None:
    image, loop = loop_device
    foreign = foreign_luks(tmp_path / "foreign-source.img")
    subprocess.run(["dd", f"if={foreign}", f"of={loop}", "bs=1M", "status=none", "conv=fsync"], check=True)
    before = sha256(loop)
    spec = destroying(make_spec(root=tmp_path, volume=loop_volume(loop)))
    result = run_isolated(delete(spec), tmp_path)
    assert result.returncode != 0 and "refusing to destroy" in result.stderr, result.stderr
    assert sha256(loop) == before


def test_destroy_erases_our_own_volume(tmp_path: Path) -> None:
    spec = destroying(make_spec(root=tmp_path))
    assert run_local(steps(spec, FORMAT_ONLY), stdin=KEY1 + "\n").returncode == 0
    result = run_isolated(delete(spec), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "DESTROYING" in result.stderr and not Path(spec.source).exists()


# --- one lock per volume: two runs against one image serialize ---


STAND_IN_CRYPTSETUP = """#!/bin/bash
# Logs each call (with the run it belongs to) around the real cryptsetup, slowed down so that an
# unserialized second run would interleave with the first.
printf '%s %s begin %s\\n' "$(date +%s.%N)" "$RUN_TAG" "$1" >>"$MARKER"
status=0
/usr/sbin/cryptsetup "$@" || status=$?
sleep 0.2
printf '%s %s end %s\\n' "$(date +%s.%N)" "$RUN_TAG" "$1" >>"$MARKER"
exit "$status"
"""


def stand_in_path(tmp_path: Path, text: str) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "cryptsetup"
    tool.write_text(text)
    tool.chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def test_two_runs_on_one_volume_serialize(tmp_path: Path) -> None:
    spec = make_spec(root=tmp_path)
    marker = tmp_path / "marker"
    marker.touch()
    path = stand_in_path(tmp_path, STAND_IN_CRYPTSETUP)
    program = ensure(spec)

    key_input = tmp_path / "stdin"
    key_input.write_text(KEY1 + "\n")
    key_input.chmod(0o600)

    def start(tag: str) -> subprocess.Popen[str]:
        with key_input.open() as stdin:
            return subprocess.Popen(
                ["/bin/sh", "-c", command_line(program)],
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PATH": path, "RUN_TAG": tag, "MARKER": str(marker)},
            )

    first = start("first")
    deadline = time.monotonic() + 120
    while " first " not in marker.read_text():  # the first run holds the lock now
        assert time.monotonic() < deadline, "the first run never reached cryptsetup"
        time.sleep(0.05)
    second = start("second")
    outputs = {tag: p.communicate(timeout=600) for tag, p in (("first", first), ("second", second))}
    lines = [line.split() for line in marker.read_text().splitlines()]
    tags = [fields[1] for fields in lines]
    assert tags.count("first") >= 4 and tags.count("second") >= 4, tags
    last_first = max(i for i, tag in enumerate(tags) if tag == "first")
    first_second = min(i for i, tag in enumerate(tags) if tag == "second")
    assert last_first < first_second, (
        "the second run used cryptsetup while the first still ran:\n" + marker.read_text()
    )
    # Timestamps in the marker agree with the order of the lines.
    stamps = [float(fields[0]) for fields in lines]
    assert stamps == sorted(stamps)
    # The first run formatted; the second found the volume its own and formatted nothing.
    assert "formatting" in outputs["first"][1]
    assert "formatting" not in outputs["second"][1] and "refusing" not in outputs["second"][1]


def test_the_unlock_helper_waits_for_the_volume_lock(tmp_path: Path) -> None:
    """At boot the helper takes the same lock: while a program holds it, the helper waits."""
    helper = tmp_path / "unlock"
    helper.write_text(unlock_helper_text())
    crypttab = tmp_path / "crypttab"
    crypttab.write_text(f"ep-lock-test {tmp_path}/missing.img {tmp_path}/missing.key luks,nofail\n")
    marker = tmp_path / "marker"
    # Another program holding the volume's lock, through the same library.
    holder_script = (
        VOLUME_LOCK_LIBRARY.read_text()
        + f"\nep_lock_volume ep-lock-test\necho held >>{marker}\nsleep 2\necho released >>{marker}\n"
    )
    try:
        lock_holder = subprocess.Popen(["bash", "-c", holder_script])
        deadline = time.monotonic() + 60
        while not marker.exists() or "held" not in marker.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        stand_in = stand_in_path(
            tmp_path,
            f'#!/bin/bash\necho "cryptsetup $1" >>{marker}\n/usr/sbin/cryptsetup "$@"\n',
        )
        result = subprocess.run(
            ["bash", str(helper)],
            env={**os.environ, "PATH": stand_in, "EP_CRYPTTAB": str(crypttab), "EP_FSTAB": "/nonexistent"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        lock_holder.wait(timeout=60)
        assert result.returncode == 1 and "could not open" in result.stderr, result.stderr
        assert marker.read_text().splitlines()[:3] == ["held", "released", "cryptsetup status"]
    finally:
        Path("/run/encrypted-platform/locks/ep-lock-test.lock").unlink(missing_ok=True)


# --- rotation: the boot keyfile never keeps a revoked key ---


FAILING_REMOVAL = """#!/bin/bash
# Removes the key slot as asked, then reports a failure (as a flaky device or a crash would).
/usr/sbin/cryptsetup "$@"
status=$?
case "$1" in luksRemoveKey | luksKillSlot) exit 1 ;; esac
exit "$status"
"""

ROTATE = """
ep_read_keys
ep_converge_keys
"""


def test_a_failed_old_slot_removal_leaves_the_new_key_in_the_boot_keyfile(tmp_path: Path) -> None:
    spec = make_spec(root=tmp_path, volume={"size": "64MiB", "keyVersion": 1})
    assert spec.unlock_at_boot == "crypttab"
    assert run_local(steps(spec, FORMAT_ONLY), stdin=KEY1 + "\n").returncode == 0
    # The boot keyfile as a crypttab-mode run leaves it (root-only directory, 0400 file).
    keyfile = Path(spec.keys_dir) / f"{spec.volume}.key"
    keyfile.parent.mkdir(parents=True, mode=0o700)
    keyfile.write_text(KEY1)
    keyfile.chmod(0o400)

    rotating = replace(spec, key_version=2)
    failed = run_local(
        steps(rotating, ROTATE),
        stdin=f"{KEY2}\n{KEY1}\n",
        env={"PATH": stand_in_path(tmp_path, FAILING_REMOVAL)},
    )
    assert failed.returncode != 0
    assert not key_opens(spec.source, KEY1), "the stand-in did remove the old slot"
    assert keyfile.read_text() == KEY2, "the boot keyfile must not keep the revoked key"
    assert key_opens(spec.source, KEY2)

    again = run_local(
        steps(rotating, ROTATE + 'printf "%s\\n" "${EP_ACTIONS:-none}"\n'), stdin=f"{KEY2}\n{KEY1}\n"
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "none"
    assert keyfile.read_text() == KEY2
    assert key_opens(spec.source, KEY2) and not key_opens(spec.source, KEY1)


def test_programs_of_different_volumes_never_lose_each_others_table_entries(tmp_path: Path) -> None:
    """The engine runs the LUKS programs of independent volumes at the same time, each under its
    own volume lock; every one rewrites the shared /etc/crypttab and /etc/fstab. With a slow
    rewrite (as under load), none may lose another's entry."""
    table = tmp_path / "crypttab"
    table.write_text("# kept comment\nother /dev/disk/by-id/other none luks\n")
    slow = tmp_path / "bin"
    slow.mkdir()
    (slow / "awk").write_text('#!/bin/sh\nsleep 0.3\nexec /usr/bin/awk "$@"\n')
    (slow / "awk").chmod(0o755)
    env = {**os.environ, "PATH": f"{slow}:{os.environ['PATH']}"}
    start = tmp_path / "start"
    runs = []
    for n in range(8):
        spec = make_spec(f"vol-{n}", root=tmp_path)
        body = (
            f"while [ ! -e {shlex.quote(str(start))} ]; do :; done\n"
            f'ep_table_set {shlex.quote(str(table))} 1 "$EP_MAPPER" "$EP_MAPPER /dev/disk/by-id/v{n} none luks"\n'
        )
        runs.append(
            subprocess.Popen(["bash", "-c", steps(spec, body)], stderr=subprocess.PIPE, text=True, env=env)
        )
    start.touch()
    failures = [run.communicate(timeout=120)[1] for run in runs if run.wait(timeout=120) != 0]
    assert not failures, failures
    lines = table.read_text().splitlines()
    assert lines[:2] == ["# kept comment", "other /dev/disk/by-id/other none luks"]
    assert sorted(lines[2:]) == sorted(f"ep-vol-{n} /dev/disk/by-id/v{n} none luks" for n in range(8))
