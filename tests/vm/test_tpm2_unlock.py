"""Unlock at boot through the host's TPM 2.0: a volume in `tpm2` mode in a qemu VM whose TPM is a
software TPM of this machine (tests/support/tpmlab.py, Debian's swtpm). A reboot unlocks it; the
disks on a machine with another TPM staying locked, and the operator's run sealing a new slot to
that TPM, are proven against the same programs with two software TPMs in
tests/host/test_clevis_binding.py.

The tests of this module run in order on one VM and build on each other."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.at_rest.luks_scripts import LuksVolumeSpec
from tests.support.luks_lab import command_line, ensure, make_spec
from tests.support.tpmlab import SoftwareTPM
from tests.support.vmlab.fixtures import VMFactory
from tests.support.vmlab.machine import VM

# The passphrase slot's KDF plays no part in unlocking through clevis; the cheapest the settings
# allow keeps the emulated guest's runs short.
CHEAPEST_KDF = {"pbkdf": "pbkdf2", "iterations": 1000}
KEY1 = secrets.token_hex(32)
PLAINTEXT = "TPM-PLAINTEXT-" + secrets.token_hex(12)
VOLUME: LuksVolumeSpec = make_spec(
    "app-db",
    root="",
    volume={"backing": "device", "device": VM.by_id("appdb")},
    encryption={"unlockAtBoot": "tpm2", "tpm2": {"pcrBank": "sha256", "pcrIds": [7]}, "kdf": CHEAPEST_KDF},
)


@pytest.fixture(scope="module")
def tpm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftwareTPM]:
    device = SoftwareTPM(tmp_path_factory.mktemp("tpm"))
    try:
        device.start()
        yield device
    finally:
        device.close()


@pytest.fixture(scope="module")
def vm(module_vm_factory: VMFactory, tpm: SoftwareTPM) -> VM:
    return module_vm_factory(
        "luks", name="tpm2-unlock", data_disks={"appdb": "256M"}, extra_qemu_args=tpm.qemu_args
    )


def run(vm: VM, program: str, stdin: str) -> subprocess.CompletedProcess[bytes]:
    result = vm.ssh(command_line(program), input=stdin, check=False, timeout=300)
    out, err = result.stdout.decode(), result.stderr.decode()
    assert KEY1 not in out and KEY1 not in err, "a key leaked into the command's output"
    assert result.returncode == 0, err[-3000:]
    return result


def actions(result: subprocess.CompletedProcess[bytes]) -> set[str]:
    return set(json.loads(result.stdout.decode().strip().splitlines()[-1])["actions"].split(","))


def guest(vm: VM, command: str) -> str:
    return vm.ssh(command).stdout.decode()


def mounted(vm: VM) -> bool:
    probe = f"findmnt --source /dev/mapper/{VOLUME.mapper} --target {VOLUME.mount}"
    return vm.ssh(probe, check=False).returncode == 0


def clevis_slots(vm: VM) -> list[str]:
    listing = vm.ssh(f"clevis luks list -d {VOLUME.source}", check=False).stdout.decode()
    return [line.split(":", 1)[0] for line in listing.splitlines() if line.strip()]


def test_create_seals_a_slot_to_the_tpm_and_keeps_no_key_on_the_host(vm: VM) -> None:
    assert guest(vm, "ls /dev/tpmrm0").strip() == "/dev/tpmrm0", "the guest sees its TPM"
    result = run(vm, ensure(VOLUME), KEY1 + "\n")
    assert {"formatted", "clevis-bound", "mounted"} <= actions(result), result.stderr.decode()[-2000:]
    [slot] = clevis_slots(vm)
    assert "tpm2" in guest(vm, f"clevis luks list -d {VOLUME.source} -s {slot}")
    assert guest(vm, "ls -A /etc/encrypted-platform/keys 2>/dev/null || true").strip() == ""
    assert f"ep-app-db UUID={VOLUME.uuid} none luks,noauto,nofail" in guest(vm, "cat /etc/crypttab")
    vm.ssh(f"for i in $(seq 1 100); do echo {PLAINTEXT}; done > {VOLUME.data_dir}/notes.txt && sync")
    assert actions(run(vm, ensure(VOLUME), KEY1 + "\n")) == {"none"}


def reboot(vm: VM, tpm: SoftwareTPM) -> None:
    """qemu shuts the emulator down with the VM; the TPM's state stays in its directory, and the
    next boot finds the same TPM, as a mainboard's."""
    vm.poweroff()
    tpm.start()
    vm.boot()


def test_a_reboot_unlocks_through_the_tpm_and_no_disk_holds_a_key(vm: VM, tpm: SoftwareTPM) -> None:
    reboot(vm, tpm)
    assert "ep-app-db: opened through clevis" in vm.console()
    assert mounted(vm)
    assert guest(vm, f"sort -u {VOLUME.data_dir}/notes.txt").strip() == PLAINTEXT
    [slot] = clevis_slots(vm)
    sealed_key = guest(vm, f"clevis luks pass -d {VOLUME.source} -s {slot}")
    vm.ssh("sync")
    for disk in (vm.root_disk, *vm.data_disks.values()):
        data = Path(disk).read_bytes()
        assert KEY1.encode() not in data and sealed_key.encode() not in data, f"a key is on {disk}"
