"""Network-bound unlock for real: a volume in `tang` mode in a qemu VM, a Tang server in a network
namespace of this machine (tests/support/tanglab.py) that the guest reaches only through the
qemu link the test made. Reboots with the server reachable and unreachable, a passphrase
rotation and a Tang key rotation; the guest's disks are scanned for every key.

The tests of this module run in order on one VM and build on each other. What needs no reboot
(re-runs, a wrong thumbprint, cut-off runs, an operator's own slot) is proven against the same
programs on image files in tests/host/test_clevis_binding.py."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.at_rest.luks_scripts import LuksVolumeSpec
from tests.support.luks_lab import command_line, ensure, make_spec
from tests.support.tanglab import TangServer
from tests.support.vmlab.fixtures import VMFactory
from tests.support.vmlab.machine import VM

# The passphrase slot's KDF plays no part in unlocking through clevis; the cheapest the settings
# allow keeps the emulated guest's runs short.
CHEAPEST_KDF = {"pbkdf": "pbkdf2", "iterations": 1000}
KEY1 = secrets.token_hex(32)
KEY2 = secrets.token_hex(32)
PLAINTEXT = "TANG-PLAINTEXT-" + secrets.token_hex(12)
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def tang(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TangServer]:
    server = TangServer(tmp_path_factory.mktemp("tang"))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def vm(module_vm_factory: VMFactory, tang: TangServer) -> VM:
    return module_vm_factory(
        "luks", name="tang-unlock", data_disks={"appdb": "256M"}, guest_forwards=[tang.guest_forward]
    )


def spec(tang: TangServer, *, key_version: int = 1, thumbprint: str | None = None) -> LuksVolumeSpec:
    thumbprint = thumbprint or tang.signing_thumbprints()[0]
    return make_spec(
        "app-db",
        root="",
        volume={"backing": "device", "device": VM.by_id("appdb"), "keyVersion": key_version},
        encryption={
            "unlockAtBoot": "tang",
            "tang": {"servers": [{"url": tang.url, "thumbprint": thumbprint}]},
        },
    )


def run(vm: VM, program: str, stdin: str, *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    result = vm.ssh(command_line(program), input=stdin, check=False, timeout=300)
    out, err = result.stdout.decode(), result.stderr.decode()
    for key in (KEY1, KEY2):
        assert key not in out and key not in err, "a key leaked into the command's output"
    if check:
        assert result.returncode == 0, err[-3000:]
    return result


def actions(result: subprocess.CompletedProcess[bytes]) -> set[str]:
    return set(json.loads(result.stdout.decode().strip().splitlines()[-1])["actions"].split(","))


def guest(vm: VM, command: str) -> str:
    return vm.ssh(command).stdout.decode()


def mounted(vm: VM, volume: LuksVolumeSpec) -> bool:
    probe = f"findmnt --source /dev/mapper/{volume.mapper} --target {volume.mount}"
    return vm.ssh(probe, check=False).returncode == 0


def key_opens(vm: VM, volume: LuksVolumeSpec, key: str) -> bool:
    result = vm.ssh(f"cryptsetup open --test-passphrase --key-file=- {volume.source}", input=key, check=False)
    assert result.returncode in (0, 2), result.stderr.decode()
    return result.returncode == 0


def clevis_slots(vm: VM, volume: LuksVolumeSpec) -> list[str]:
    listing = vm.ssh(f"clevis luks list -d {volume.source}", check=False).stdout.decode()
    return [line.split(":", 1)[0] for line in listing.splitlines() if line.strip()]


def clevis_key(vm: VM, volume: LuksVolumeSpec, slot: str) -> str:
    """The random key clevis keeps for its slot, recovered through Tang (to scan the disks for it)."""
    return guest(vm, f"clevis luks pass -d {volume.source} -s {slot}")


def disks_hold(vm: VM, needles: list[str]) -> list[str]:
    """Which needles appear in the bytes of the guest's disks (the root overlay holds everything the
    guest wrote to its root filesystem; the data disk holds the volume)."""
    vm.ssh("sync")
    found = []
    for path in (vm.root_disk, *vm.data_disks.values()):
        data = Path(path).read_bytes()
        found += [f"{needle[:8]}... in {Path(path).name}" for needle in needles if needle.encode() in data]
    return found


def timed(step: str, started: float) -> None:
    TIMINGS[step] = round(time.monotonic() - started, 1)
    print(f"tang timing: {step}: {TIMINGS[step]} s")


def test_create_binds_a_tang_slot_and_keeps_no_key_on_the_host(vm: VM, tang: TangServer) -> None:
    volume = spec(tang)
    started = time.monotonic()
    result = run(vm, ensure(volume), KEY1 + "\n")
    timed("create (format, bind, mount)", started)
    assert {"formatted", "clevis-bound", "mounted"} <= actions(result), result.stderr.decode()[-2000:]
    assert len(clevis_slots(vm, volume)) == 1
    assert guest(vm, "ls -A /etc/encrypted-platform/keys 2>/dev/null || true").strip() == ""
    crypttab = guest(vm, "cat /etc/crypttab")
    assert f"ep-app-db UUID={volume.uuid} none luks,noauto,nofail,_netdev" in crypttab
    assert "noauto" in guest(vm, "cat /etc/fstab")
    vm.ssh(f"for i in $(seq 1 100); do echo {PLAINTEXT}; done > {volume.data_dir}/notes.txt && sync")


def test_reboot_with_tang_unreachable_stays_locked_until_the_operator_unlocks(
    vm: VM, tang: TangServer
) -> None:
    volume = spec(tang)
    tang.stop()
    try:
        started = time.monotonic()
        vm.reboot()
        timed("reboot, Tang unreachable (to ready)", started)
        assert "ep-app-db: clevis did not unlock" in vm.console()
        assert not mounted(vm, volume)
        assert guest(vm, f"ls {volume.mount}").strip() == "", "nothing of the volume is visible"
        # The documented way back: `pulumi up` runs the same converge step with the passphrase.
        started = time.monotonic()
        result = run(vm, ensure(volume), KEY1 + "\n")
        timed("pulumi up's unlock with Tang unreachable", started)
        assert {"opened", "mounted"} <= actions(result)
        assert "the Tang servers did not answer" in result.stderr.decode()
        assert guest(vm, f"sort -u {volume.data_dir}/notes.txt").strip() == PLAINTEXT
    finally:
        tang.start()


def test_rotation_rebinds_and_rejects_the_old_passphrase(vm: VM, tang: TangServer) -> None:
    before = spec(tang)
    after = spec(tang, key_version=2)
    [old_slot] = clevis_slots(vm, before)
    old_clevis_key = clevis_key(vm, before, old_slot)
    started = time.monotonic()
    result = run(vm, ensure(after), f"{KEY2}\n{KEY1}\n")
    timed("passphrase rotation with re-binding", started)
    assert {"rotated", "clevis-bound", "clevis-unbound"} <= actions(result)
    assert not key_opens(vm, after, KEY1) and key_opens(vm, after, KEY2)
    assert not key_opens(vm, after, old_clevis_key), "the old binding's key no longer opens"
    assert len(clevis_slots(vm, after)) == 1


def test_tang_key_rotation_then_a_reboot_with_tang_reachable_unlocks_and_no_disk_holds_a_key(
    vm: VM, tang: TangServer
) -> None:
    [old_thumbprint] = tang.signing_thumbprints()
    tang.rotate_keys()
    [new_thumbprint] = tang.signing_thumbprints()
    assert new_thumbprint != old_thumbprint
    # The old binding still decrypts (the server keeps the old keys, hidden), so nothing breaks
    # between the Tang rotation and the stack update that pins the new thumbprint.
    volume = spec(tang, key_version=2, thumbprint=new_thumbprint)
    started = time.monotonic()
    result = run(vm, ensure(volume), f"{KEY2}\n{KEY1}\n")
    timed("re-binding to the rotated Tang keys", started)
    assert {"clevis-bound", "clevis-unbound"} <= actions(result)
    # Now the server may forget its old keys: only the new binding is left, and it unlocks (after
    # both rotations: the passphrase's and Tang's).
    for hidden in tang.keys.glob(".*.jwk"):
        hidden.unlink()
    started = time.monotonic()
    vm.reboot()
    timed("reboot after both rotations", started)
    assert "ep-app-db: opened through clevis" in vm.console()
    assert mounted(vm, volume)
    assert guest(vm, f"sort -u {volume.data_dir}/notes.txt").strip() == PLAINTEXT
    [slot] = clevis_slots(vm, volume)
    assert disks_hold(vm, [KEY1, KEY2, clevis_key(vm, volume, slot)]) == []
    print("tang timings:", json.dumps(TIMINGS))
