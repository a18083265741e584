"""Smoke tests of the VM lab itself: what the vm and e2e tiers rely on, really exercised. The
docker flavour's own checks (engine up with the baked images, restricted network, loopback-only
forwards, the unlock helper before dockerd at boot) run on the e2e tier's VM, which boots one
anyway: a docker-flavour boot costs minutes under emulation. What a clean reboot and a cut power
keep (the root disk's files, a LUKS volume, synced data) is proven by tests/vm/test_luks_volumes.py,
whose volumes come back after both."""

from __future__ import annotations

import secrets
import shlex
import subprocess
from pathlib import Path

from tests.support.vmlab.guest_build import kernel_version
from tests.support.vmlab.machine import VM

# Test-only KDF cost (argon2 benchmarking takes ~3 s per unlock under emulation); the project
# keeps real argon2id defaults in production and passes such values through its settings.
FAST_KDF = "--pbkdf argon2id --pbkdf-memory 32768 --pbkdf-force-iterations 4 --pbkdf-parallel 1"


def text(vm: VM, command: str, **kwargs: object) -> str:
    return vm.ssh(command, **kwargs).stdout.decode().strip()  # type: ignore[arg-type]


def luks_format_and_fill(
    vm: VM, device: str, mapper: str, mount: str, passphrase: str, content: str, kdf: str = FAST_KDF
) -> None:
    """format, open, mkfs, mount, write, unmount, close: the passphrase only ever on stdin."""
    vm.ssh(
        f"cryptsetup luksFormat --batch-mode --type luks2 --cipher aes-xts-plain64 --key-size 512 {kdf} "
        f"--key-file=- {device}",
        input=passphrase,
    )
    vm.ssh(f"cryptsetup open --type luks2 --key-file=- {device} {mapper}", input=passphrase)
    vm.ssh(
        f"mkfs.ext4 -q /dev/mapper/{mapper} && mkdir -p {mount} && mount /dev/mapper/{mapper} {mount} "
        f"&& printf %s {content} > {mount}/secret.txt && sync && umount {mount} && cryptsetup close {mapper}"
    )


def open_and_read(vm: VM, device: str, mapper: str, mount: str, passphrase: str) -> str:
    vm.ssh(f"cryptsetup open --type luks2 --key-file=- {device} {mapper}", input=passphrase)
    try:
        return text(
            vm, f"mkdir -p {mount} && mount -o ro /dev/mapper/{mapper} {mount} && cat {mount}/secret.txt"
        )
    finally:
        vm.ssh(f"umount {mount}; cryptsetup close {mapper}", check=False)


# --- luks flavour -------------------------------------------------------------------------------


def test_guest_runs_debians_real_tools(module_luks_vm: VM) -> None:
    vm = module_luks_vm
    assert text(vm, "uname -r") == kernel_version()
    assert "util-linux" in text(vm, "mount --version")
    assert "util-linux" in text(vm, "blkid --version")
    assert text(vm, "readlink -f $(command -v awk)") == "/usr/bin/mawk"
    assert text(vm, "cryptsetup --version").startswith("cryptsetup 2.")
    assert "(nf_tables)" in text(vm, "iptables -V")
    assert "GNU coreutils" in text(vm, "cmp --version; shred --version")
    # iptables with an extension match really reaches the kernel (nft_compat, xt_* autoload).
    vm.ssh("iptables -A INPUT -p tcp --dport 9 -m conntrack --ctstate NEW -m comment --comment vmlab -j DROP")
    assert "--comment vmlab -j DROP" in text(vm, "iptables -S INPUT")
    vm.ssh("iptables -D INPUT -p tcp --dport 9 -m conntrack --ctstate NEW -m comment --comment vmlab -j DROP")


def test_deploy_user_has_passwordless_sudo(module_luks_vm: VM) -> None:
    assert text(module_luks_vm, "id -un; id -u", user="deploy").split() == ["deploy", "1000"]
    assert text(module_luks_vm, "sudo -n id -u", user="deploy") == "0"


def test_long_exec_commands_and_sftp_work(module_luks_vm: VM, tmp_path: Path) -> None:
    vm = module_luks_vm
    # Pulumi remote Commands send whole programs (20+ KB) as the SSH exec request, run this way.
    payload = "x" * 40_000
    program = f"payload='{payload}'; printf '%s %s' \"$0\" \"${{#payload}}\""
    assert text(vm, f"bash -c {shlex.quote(program)} ep-luks-ensure-smoke") == "ep-luks-ensure-smoke 40000"
    # File uploads (scp/sftp) reach the guest too.
    local = tmp_path / "upload.txt"
    local.write_text("sftp works\n")
    subprocess.run(
        ["sftp", "-F", str(vm.ssh_config), "-b", "-", "127.0.0.1"],
        input=f"put {local} /root/upload.txt\n".encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert text(vm, "cat /root/upload.txt") == "sftp works"


def test_data_disks_have_by_id_links(module_luks_vm: VM) -> None:
    vm = module_luks_vm
    assert text(vm, f"readlink -f {vm.by_id('data1')}") == "/dev/vdb"
    assert text(vm, f"readlink -f {vm.by_id('data2')}") == "/dev/vdc"
    assert text(vm, f"blockdev --getsize64 {vm.by_id('data2')}") == str(256 * 1024**2)


def test_cryptsetup_open_mkfs_mount_write_close_on_a_data_disk(module_luks_vm: VM) -> None:
    vm = module_luks_vm
    passphrase = secrets.token_urlsafe(24)
    marker = f"plaintext-{secrets.token_hex(8)}"
    device = vm.by_id("data1")
    luks_format_and_fill(vm, device, "vmlab-smoke", "/mnt/smoke", passphrase, marker)

    assert text(vm, f"cryptsetup luksDump {device} | sed -n 's/^Version:[[:space:]]*//p'") == "2"
    dump = text(vm, f"cryptsetup luksDump {device}")
    assert "aes-xts-plain64" in dump
    assert "argon2id" in dump  # argon2 really ran in the guest (it needs libgcc_s for threads)
    assert open_and_read(vm, device, "vmlab-smoke", "/mnt/smoke", passphrase) == marker
    wrong = vm.ssh(f"cryptsetup open --test-passphrase --key-file=- {device}", input="wrong", check=False)
    assert wrong.returncode == 2
    # The host sees only ciphertext: the marker is nowhere on the raw disk image, the header is.
    raw = vm.data_disks["data1"].read_bytes()
    assert raw.startswith(b"LUKS\xba\xbe")
    assert marker.encode() not in raw
    assert passphrase.encode() not in raw
