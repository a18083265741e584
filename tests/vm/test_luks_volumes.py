"""EncryptedVolume's programs for real: dm-crypt, mkfs, mount, reboots, rotation, interruption,
delete and re-encryption in a qemu VM, each program piped over SSH exactly as the component's
remote Command runs it (`bash -c '<program>' name`, passphrase on stdin).

The tests of this module run in order on one VM and build on each other (a volume's life)."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import threading
import time

import pytest

from tests.support.luks_lab import command_line, delete, ensure, make_spec, reencrypt, steps
from tests.support.vmlab.fixtures import VMFactory
from tests.support.vmlab.machine import VM

KEY1 = secrets.token_hex(32)
KEY2 = secrets.token_hex(32)
PLAINTEXT = "PLAINTEXT-" + secrets.token_hex(12)

# Paths are the production defaults (/srv/encrypted, /etc/encrypted-platform/keys...): the VM is
# a throwaway host. Only the KDF is made cheap, through the setting meant for that.
APP_DB = make_spec("app-db", root="", volume={"backing": "device", "device": VM.by_id("appdb")})
APP_DB_V2 = make_spec(
    "app-db", root="", volume={"backing": "device", "device": VM.by_id("appdb"), "keyVersion": 2}
)
DOCS_MANUAL = make_spec(
    "documents",
    root="",
    volume={"backing": "device", "device": VM.by_id("docs")},
    encryption={"unlockAtBoot": "manual"},
)
LOGS_FILE = make_spec(
    "logs", root="", volume={"backing": "file", "size": "96MiB", "dataOwner": "1000:1000", "dataMode": "0750"}
)
INTERRUPTED = make_spec("vector-store", root="", volume={"backing": "device", "device": VM.by_id("intr")})
STEPWISE = make_spec("config-secrets", root="", volume={"backing": "device", "device": VM.by_id("steps")})


@pytest.fixture(scope="module")
def vm(module_vm_factory: VMFactory) -> VM:
    return module_vm_factory(
        "luks",
        name="luks-volumes",
        data_disks={"appdb": "256M", "docs": "256M", "intr": "256M", "steps": "256M"},
    )


def run(
    vm: VM,
    program: str,
    stdin: str = "",
    *,
    user: str = "root",
    become: bool = False,
    check: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess[bytes]:
    line = command_line(program)
    if become:
        line = "sudo -n " + line
    result = vm.ssh(line, input=stdin, user=user, check=False, timeout=timeout)
    out, err = result.stdout.decode(), result.stderr.decode()
    for key in (KEY1, KEY2):
        assert key not in out and key not in err, "a key leaked into the command's output"
    if check:
        assert result.returncode == 0, err[-3000:]
    return result


def report(result: subprocess.CompletedProcess[bytes]) -> dict:
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


def actions(result: subprocess.CompletedProcess[bytes]) -> set[str]:
    return set(report(result)["actions"].split(","))


def guest(vm: VM, command: str, **kw) -> str:
    return vm.ssh(command, **kw).stdout.decode()


def key_opens(vm: VM, source: str, key: str) -> bool:
    result = vm.ssh(f"cryptsetup open --test-passphrase --key-file=- {source}", input=key, check=False)
    assert result.returncode in (0, 2), result.stderr.decode()
    return result.returncode == 0


def mounted(vm: VM, spec) -> bool:
    return (
        vm.ssh(f"findmnt --source /dev/mapper/{spec.mapper} --target {spec.mount}", check=False).returncode
        == 0
    )


def test_create_formats_opens_mounts_and_sets_up_unlock_at_boot(vm: VM) -> None:
    result = run(vm, ensure(APP_DB), KEY1 + "\n")
    assert actions(result) >= {
        "formatted",
        "opened",
        "mkfs",
        "mounted",
        "data-dir",
        "header-backup",
        "keyfile",
    }
    dump = guest(vm, f"cryptsetup luksDump {APP_DB.source}")
    assert (
        "Version:       \t2" in dump
        and "aes-xts-plain64" in dump
        and "512 bits" in dump
        and "argon2id" in dump
    )
    assert mounted(vm, APP_DB)
    assert guest(vm, f"stat -c '%a %u:%g' {APP_DB.data_dir}").strip() == "700 0:0"
    assert f"ep-app-db UUID={APP_DB.uuid} /etc/encrypted-platform/keys/app-db.key luks,nofail" in guest(
        vm, "cat /etc/crypttab"
    )
    assert f"/dev/mapper/ep-app-db {APP_DB.mount} ext4 defaults,nodev,nosuid,nofail 0 2" in guest(
        vm, "cat /etc/fstab"
    )
    assert guest(
        vm, "stat -c '%a' /etc/encrypted-platform/keys /etc/encrypted-platform/keys/app-db.key"
    ).split() == ["700", "400"]
    assert (
        guest(vm, "sha256sum < /etc/encrypted-platform/keys/app-db.key").split()[0]
        == hashlib.sha256(KEY1.encode()).hexdigest()
    )
    assert guest(vm, "test -x /usr/local/sbin/encrypted-platform-unlock && echo yes").strip() == "yes"
    # The bare mount point is immutable: nothing can be written there while it is not mounted.
    assert (
        "i"
        in guest(vm, f"umount {APP_DB.mount} && lsattr -d {APP_DB.mount}; mount {APP_DB.mount}").split()[0]
    )
    assert mounted(vm, APP_DB)


def test_a_second_create_changes_nothing(vm: VM) -> None:
    header = guest(
        vm,
        f"cryptsetup luksHeaderBackup {APP_DB.source} --header-backup-file /tmp/h1 && sha256sum /tmp/h1 && rm /tmp/h1",
    )
    result = run(vm, ensure(APP_DB), KEY1 + "\n")
    assert report(result)["actions"] == "none"
    again = guest(
        vm,
        f"cryptsetup luksHeaderBackup {APP_DB.source} --header-backup-file /tmp/h1 && sha256sum /tmp/h1 && rm /tmp/h1",
    )
    assert header.split()[0] == again.split()[0]


def test_data_lands_encrypted_on_the_disk(vm: VM) -> None:
    vm.ssh(
        f"for i in $(seq 1 200); do echo {PLAINTEXT}; done > {APP_DB.data_dir}/notes.txt && sync && echo 3 > /proc/sys/vm/drop_caches"
    )
    assert PLAINTEXT in guest(vm, f"head -n 1 {APP_DB.data_dir}/notes.txt")
    raw = vm.data_disks["appdb"].read_bytes()
    assert PLAINTEXT.encode() not in raw
    assert b"LUKS\xba\xbe" in raw[:8]


def test_rotation_rejects_the_old_passphrase_and_keeps_the_data(vm: VM) -> None:
    backups_before = guest(vm, "ls /var/backups/encrypted-platform/app-db/").split()
    result = run(vm, ensure(APP_DB_V2), f"{KEY2}\n{KEY1}\n")
    assert {"rotated", "keyfile", "header-backup"} <= actions(result)
    assert key_opens(vm, APP_DB.source, KEY2)
    assert not key_opens(vm, APP_DB.source, KEY1)
    assert (
        guest(vm, "sha256sum < /etc/encrypted-platform/keys/app-db.key").split()[0]
        == hashlib.sha256(KEY2.encode()).hexdigest()
    )
    assert len(guest(vm, "ls /var/backups/encrypted-platform/app-db/").split()) == len(backups_before) + 1
    assert guest(vm, f"sort -u {APP_DB.data_dir}/notes.txt").strip() == PLAINTEXT
    assert report(run(vm, ensure(APP_DB_V2), f"{KEY2}\n{KEY1}\n"))["actions"] == "none"


def test_a_rerun_while_containers_bind_the_data_directory_changes_nothing(vm: VM) -> None:
    """Docker's local driver binds the data directory (mount root /data) for each container using
    the volume: the volume's own consumers, not a second mount of its filesystem."""
    binds = ["/var/lib/docker/volumes/encrypted-platform-app-db/_data", "/mnt/second-consumer"]
    vm.ssh(" && ".join(f"mkdir -p {b} && mount --bind {APP_DB.data_dir} {b}" for b in binds))
    try:
        assert report(run(vm, ensure(APP_DB_V2), f"{KEY2}\n{KEY1}\n"))["actions"] == "none"
    finally:
        vm.ssh("; ".join(f"umount {b}" for b in binds), check=False)


def test_the_whole_filesystem_mounted_a_second_time_is_refused(vm: VM) -> None:
    vm.ssh(f"mkdir -p /mnt/elsewhere && mount /dev/mapper/{APP_DB.mapper} /mnt/elsewhere")
    try:
        result = run(vm, ensure(APP_DB_V2), f"{KEY2}\n{KEY1}\n", check=False)
        message = result.stderr.decode()
        # The message lists every whole-filesystem mount point, ours first.
        assert result.returncode != 0 and "is mounted elsewhere: /srv/encrypted/app-db" in message, message
        assert "/mnt/elsewhere" in message, message
    finally:
        vm.ssh("umount /mnt/elsewhere", check=False)


def test_keys_never_reach_argv_or_environment_in_the_guest(vm: VM) -> None:
    # A watcher inside the guest reads the needle from a file (not its own argv) and records any
    # process whose command line or environment contains it, while a rotation runs.
    vm.ssh("umask 077; cat > /root/needles", input=f"{KEY1}\n{KEY2}\n")
    vm.ssh(
        "rm -f /root/hits; nohup bash -c 'while [ ! -e /root/stop ]; do grep -l -F -f /root/needles /proc/[0-9]*/cmdline /proc/[0-9]*/environ >> /root/hits 2>/dev/null; done' >/dev/null 2>&1 &"
    )
    back = make_spec(
        "app-db", root="", volume={"backing": "device", "device": VM.by_id("appdb"), "keyVersion": 3}
    )
    run(vm, ensure(back), f"{KEY1}\n{KEY2}\n")  # rotate to KEY1 again (version 3)...
    run(vm, ensure(APP_DB_V2), f"{KEY2}\n{KEY1}\n")  # ...and back to KEY2 (a second rotation)
    vm.ssh("touch /root/stop; sleep 1; rm -f /root/stop /root/needles")
    assert guest(vm, "cat /root/hits 2>/dev/null || true").strip() == ""
    assert key_opens(vm, APP_DB.source, KEY2) and not key_opens(vm, APP_DB.source, KEY1)


def test_file_backed_volume_through_sudo_as_a_non_root_user(vm: VM) -> None:
    result = run(vm, ensure(LOGS_FILE), KEY1 + "\n", user="deploy", become=True)
    assert {"created-image", "formatted", "mkfs", "mounted"} <= actions(result)
    assert guest(vm, f"stat -c '%a %s' {LOGS_FILE.source}").split() == ["600", str(96 * 1024**2)]
    assert guest(vm, f"stat -c '%a %u:%g' {LOGS_FILE.data_dir}").strip() == "750 1000:1000"
    vm.ssh(f"echo {PLAINTEXT} > {LOGS_FILE.data_dir}/log.txt && sync")


def test_manual_unlock_keeps_no_key_on_the_host(vm: VM) -> None:
    run(vm, ensure(DOCS_MANUAL), KEY1 + "\n")
    vm.ssh(f"echo manual > {DOCS_MANUAL.data_dir}/m.txt && sync")
    assert "documents.key" not in guest(vm, "ls /etc/encrypted-platform/keys/")
    assert "ep-documents" not in guest(vm, "cat /etc/crypttab")
    assert DOCS_MANUAL.mount not in guest(vm, "cat /etc/fstab")


def test_one_reboot_brings_every_volume_back_as_configured(vm: VM) -> None:
    vm.reboot()
    console = vm.console()
    # crypttab volumes: unlocked at boot by the installed helper, before anything else needs them.
    assert "ep-app-db: opened" in console and "ep-logs: opened" in console
    assert mounted(vm, APP_DB), "the rotated keyfile unlocks the device-backed volume"
    assert guest(vm, f"sort -u {APP_DB.data_dir}/notes.txt").strip() == PLAINTEXT
    assert mounted(vm, LOGS_FILE), "a file-backed volume unlocks at boot too (loop device)"
    assert guest(vm, f"cat {LOGS_FILE.data_dir}/log.txt").strip() == PLAINTEXT
    # The converge step agrees nothing is left to do.
    assert report(run(vm, ensure(APP_DB_V2), f"{KEY2}\n{KEY1}\n"))["actions"] == "none"
    # manual volumes stay locked until the operator runs `pulumi up` (the same converge step).
    assert not mounted(vm, DOCS_MANUAL)
    result = run(vm, ensure(DOCS_MANUAL), KEY1 + "\n")
    assert {"opened", "mounted"} <= actions(result)
    assert guest(vm, f"cat {DOCS_MANUAL.data_dir}/m.txt").strip() == "manual"


def test_hard_power_off_in_the_middle_of_create_recovers(vm: VM) -> None:
    # Time one full create on a scratch file volume, then cut the power at about half of it.
    probe = make_spec("probe", root="", volume={"backing": "file", "size": "96MiB"})
    started = time.monotonic()
    run(vm, ensure(probe), KEY1 + "\n")
    duration = time.monotonic() - started
    run(
        vm,
        delete(
            make_spec(
                "probe", root="", volume={"backing": "file", "size": "96MiB", "destroyDataOnDelete": True}
            )
        ),
    )

    def create() -> None:
        vm.ssh(command_line(ensure(INTERRUPTED)), input=KEY1 + "\n", check=False, timeout=300)

    worker = threading.Thread(target=create)
    worker.start()
    time.sleep(duration * 0.5)
    vm.hard_kill()
    worker.join()
    vm.boot()
    result = run(vm, ensure(INTERRUPTED), KEY1 + "\n")
    assert mounted(vm, INTERRUPTED)
    assert (
        guest(vm, f"cryptsetup luksDump {INTERRUPTED.source} | sed -n 's/^Subsystem:[[:space:]]*//p'").strip()
        == "encrypted-platform"
    )
    vm.ssh(f"echo survived > {INTERRUPTED.data_dir}/x && sync")
    assert report(run(vm, ensure(INTERRUPTED), KEY1 + "\n"))["actions"] == "none"
    assert result.returncode == 0


def test_interruption_after_mkfs_before_the_marker_keeps_the_new_filesystem(vm: VM) -> None:
    # Stop exactly between mkfs and the header marker: the same functions, cut short.
    cut_short = """
ep_read_keys
ep_prepare_backing
ep_format_if_needed "$(ep_preflight)"
ep_converge_keys
ep_open
"mkfs.$EP_FILESYSTEM" -q -L "$EP_FS_LABEL" "$(ep_mapper_path)"
"""
    run(vm, steps(STEPWISE, cut_short), KEY1 + "\n")
    vm.ssh(
        f"mkdir -p /mnt/peek && mount /dev/mapper/{STEPWISE.mapper} /mnt/peek && echo early > /mnt/peek/early.txt && umount /mnt/peek"
    )
    result = run(vm, ensure(STEPWISE), KEY1 + "\n")
    assert "mkfs" not in actions(result), "mkfs must never run over an existing filesystem"
    assert guest(vm, f"cat {STEPWISE.mount}/early.txt").strip() == "early"


def test_a_finished_volume_without_filesystem_is_never_reformatted(vm: VM) -> None:
    vm.ssh(f"umount {STEPWISE.mount} && wipefs --all --quiet /dev/mapper/{STEPWISE.mapper}")
    result = run(vm, ensure(STEPWISE), KEY1 + "\n", check=False)
    assert result.returncode != 0
    assert "refusing to run mkfs" in result.stderr.decode()
    assert guest(vm, f"blkid -p /dev/mapper/{STEPWISE.mapper} || echo none").strip() == "none"


def test_delete_closes_the_volume_and_keeps_its_data(vm: VM) -> None:
    result = run(vm, delete(APP_DB_V2))
    assert {"unmounted", "closed"} <= actions(result)
    assert not mounted(vm, APP_DB)
    assert vm.ssh("cryptsetup status ep-app-db", check=False).returncode != 0
    assert "ep-app-db" not in guest(vm, "cat /etc/crypttab") and APP_DB.mount not in guest(
        vm, "cat /etc/fstab"
    )
    retired = [
        k for k in guest(vm, "ls /etc/encrypted-platform/keys/retired/").split() if k.startswith("app-db-")
    ]
    assert len(retired) == 1
    assert not [
        k for k in guest(vm, "ls /etc/encrypted-platform/keys/retired/").split() if k.startswith("probe-")
    ], "a destroyed volume's key is removed, not kept"
    # The data is still there: open by hand with the retired keyfile.
    vm.ssh(
        f"cryptsetup open --key-file /etc/encrypted-platform/keys/retired/{retired[0]} {APP_DB.source} check-db "
        "&& mount -o ro /dev/mapper/check-db /mnt && sort -u /mnt/data/notes.txt > /root/seen; umount /mnt; cryptsetup close check-db"
    )
    assert guest(vm, "cat /root/seen").strip() == PLAINTEXT
    # Adding the volume back re-uses it.
    again = run(vm, ensure(APP_DB_V2), f"{KEY2}\n{KEY1}\n")
    assert "formatted" not in actions(again) and mounted(vm, APP_DB)
    assert guest(vm, f"sort -u {APP_DB.data_dir}/notes.txt").strip() == PLAINTEXT


def test_reencryption_replaces_the_volume_key_and_revokes_old_headers(vm: VM) -> None:
    def volume_key_digest() -> str:
        return guest(
            vm,
            f"cryptsetup luksDump --dump-volume-key --batch-mode --key-file=- {APP_DB.source} | sed -n '/^MK dump:/,$p' | sha256sum",
            input=KEY2,
        ).split()[0]

    before = volume_key_digest()
    vm.ssh(f"cryptsetup luksHeaderBackup {APP_DB.source} --header-backup-file /root/old-header")
    spec = make_spec(
        "app-db",
        root="",
        volume={"backing": "device", "device": VM.by_id("appdb"), "keyVersion": 2, "reencryptGeneration": 1},
    )
    result = run(vm, reencrypt(spec), KEY2 + "\n")
    assert {"reencrypted", "header-backup"} <= actions(result)
    assert volume_key_digest() != before
    assert guest(vm, f"sort -u {APP_DB.data_dir}/notes.txt").strip() == PLAINTEXT
    # An old header plus a then-valid passphrase still opens the device, but no longer decrypts
    # it. (The live mapping is closed for this: cryptsetup maps a device only once.)
    run(vm, delete(APP_DB_V2))
    vm.ssh(
        f"cryptsetup open --header /root/old-header --key-file=- --readonly {APP_DB.source} old-view",
        input=KEY2,
    )
    assert guest(vm, "blkid -p /dev/mapper/old-view || echo unreadable").strip() == "unreadable"
    vm.ssh("cryptsetup close old-view; rm -f /root/old-header")
    again = run(vm, ensure(APP_DB_V2), f"{KEY2}\n{KEY1}\n")
    assert "formatted" not in actions(again)
    assert guest(vm, f"sort -u {APP_DB.data_dir}/notes.txt").strip() == PLAINTEXT


def test_destroy_data_on_delete_erases_every_key_slot(vm: VM) -> None:
    doomed = make_spec(
        "logs", root="", volume={"backing": "file", "size": "96MiB", "destroyDataOnDelete": True}
    )
    result = run(vm, delete(doomed))
    assert "destroyed" in actions(result)
    assert vm.ssh(f"test -e {doomed.source}", check=False).returncode != 0
    assert "logs.key" not in guest(
        vm, "ls /etc/encrypted-platform/keys/ /etc/encrypted-platform/keys/retired/"
    )
    assert "ep-logs" not in guest(vm, "cat /etc/crypttab")
    assert "DESTROYING" in result.stderr.decode()
