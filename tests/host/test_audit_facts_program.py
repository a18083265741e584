"""The audit's facts program (components/scripts/audit/facts.sh) run for real on this machine
against LUKS2 image files made with real cryptsetup, its JSON judged by the audit's checks.

device-mapper is missing on this host's kernel, so no volume can be opened here: the mapping and
mount controls must say so (the VM tier opens them). Everything the header tells is real."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from scripts.audit import argv_runner, run_audit, ssh_runner
from scripts.audit.host_facts import FACTS_PROGRAM, facts_input, facts_program_text
from scripts.audit.model import Expected
from tests.support import audit_facts as af
from tests.support.tiers import SYSTEM_PATH

PASSPHRASE = "audit-host-test-passphrase"
ENV = {**os.environ, "PATH": SYSTEM_PATH}


def cryptsetup(*args: str, key: str | None = PASSPHRASE) -> None:
    subprocess.run(
        ["cryptsetup", *args], input=(key or "").encode(), env=ENV, check=True, capture_output=True
    )


def luks_image(path: Path, volume_uuid: str, cipher: str = "aes-xts-plain64", key_bits: int = 512) -> Path:
    subprocess.run(["truncate", "-s", "40M", str(path)], check=True)
    cryptsetup(
        "luksFormat", "--batch-mode", "--type", "luks2", "--cipher", cipher, "--key-size", str(key_bits),
        "--pbkdf", "argon2id", "--pbkdf-memory", "65536", "--pbkdf-force-iterations", "4",
        "--pbkdf-parallel", "1", "--uuid", volume_uuid, "--key-file=-", str(path),
    )  # fmt: skip
    return path


def header_backup(image: Path, directory: Path, volume: str) -> Path:
    (directory / volume).mkdir(parents=True, mode=0o700, exist_ok=True)
    target = directory / volume / f"{volume}-20260101T000000Z.luks-header"
    target.unlink(missing_ok=True)
    cryptsetup("luksHeaderBackup", str(image), "--header-backup-file", str(target), key=None)
    target.chmod(0o400)
    latest = directory / volume / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(target.name)
    return target


@pytest.fixture
def deployed(tmp_path: Path) -> Expected:
    """One manual-unlock volume as the LUKS program leaves it (format, header backup), expected
    with this machine's paths."""
    volume_uuid = str(uuid.uuid4())
    image = luks_image(tmp_path / "app-db.img", volume_uuid)
    header_backup(image, tmp_path / "headers", "app-db")
    (tmp_path / "keys").mkdir(mode=0o700)
    want = af.expected(
        dataclasses.replace(
            af.volume("app-db", "manual"),
            source=str(image),
            luks_uuid=volume_uuid,
            mapper=f"ep-audit-{secrets.token_hex(4)}",
            mount_point=str(tmp_path / "mnt" / "app-db"),
            data_dir=str(tmp_path / "mnt" / "app-db" / "data"),
        )
    )
    return dataclasses.replace(
        want, keys_dir=str(tmp_path / "keys"), header_backup_dir=str(tmp_path / "headers"), pbkdf_parallel=1
    )


def statuses(want: Expected) -> dict[str, tuple[str, str]]:
    report = run_audit(want, argv_runner())
    return {c.id: (c.status, c.summary) for c in report.controls}


def test_the_real_header_passes_and_what_this_host_cannot_open_is_named(deployed: Expected) -> None:
    found = statuses(deployed)
    for control in ("luks2", "cipher", "pbkdf", "key-slots", "header-backup", "unlock"):
        assert found[f"at-rest.{control}[app-db]"][0] == "pass", found[f"at-rest.{control}[app-db]"]
    mapping = found["at-rest.mapping[app-db]"]
    assert mapping[0] == "fail" and "is not active" in mapping[1]
    assert found["at-rest.mount[app-db]"][0] == "fail"
    assert "nothing is mounted" in found["at-rest.mount[app-db]"][1]


def test_another_device_a_weaker_cipher_and_a_second_passphrase_are_caught(
    deployed: Expected, tmp_path: Path
) -> None:
    volume = deployed.volumes[0]
    other = dataclasses.replace(volume, luks_uuid=str(uuid.uuid4()))
    assert statuses(dataclasses.replace(deployed, volumes=(other,)))["at-rest.luks2[app-db]"][0] == "fail"

    cryptsetup("luksAddKey", "--batch-mode", "--pbkdf", "argon2id", "--pbkdf-memory", "65536",
               "--pbkdf-force-iterations", "4", "--pbkdf-parallel", "1", "--key-file=-", volume.source,
               str(write_secret(tmp_path / "second", "second-passphrase")))  # fmt: skip
    found = statuses(deployed)
    assert (
        found["at-rest.key-slots[app-db]"][0] == "fail"
        and "2 passphrase slots" in found["at-rest.key-slots[app-db]"][1]
    )
    assert found["at-rest.header-backup[app-db]"][0] == "warn"

    weak = luks_image(tmp_path / "weak.img", volume.luks_uuid, cipher="aes-cbc-essiv:sha256", key_bits=256)
    found = statuses(dataclasses.replace(deployed, volumes=(dataclasses.replace(volume, source=str(weak)),)))
    assert (
        found["at-rest.cipher[app-db]"][0] == "fail"
        and "aes-cbc-essiv:sha256" in found["at-rest.cipher[app-db]"][1]
    )


def write_secret(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o400)
    return path


def test_a_key_file_where_none_should_be_is_stat_ed_never_read(deployed: Expected) -> None:
    marker = f"key-material-{secrets.token_hex(16)}"
    write_secret(Path(deployed.keys_dir) / "app-db.key", marker)
    stdout = argv_runner()(facts_program_text(), facts_input(deployed))
    assert marker.encode() not in stdout
    found = statuses(deployed)
    assert (
        found["at-rest.unlock[app-db]"][0] == "fail"
        and "yet a key file" in found["at-rest.unlock[app-db]"][1]
    )


def test_a_missing_or_damaged_header_backup_fails(deployed: Expected) -> None:
    latest = Path(deployed.header_backup_dir) / "app-db" / "latest"
    target = latest.resolve()
    target.chmod(0o600)
    target.write_bytes(b"\0" * 4096)
    target.chmod(0o400)
    found = statuses(deployed)
    assert (
        found["at-rest.header-backup[app-db]"][0] == "fail"
        and "does not parse" in found["at-rest.header-backup[app-db]"][1]
    )
    shutil.rmtree(latest.parent)
    assert statuses(deployed)["at-rest.header-backup[app-db]"][0] == "fail"


def test_hostile_records_are_refused_by_the_program_itself(tmp_path: Path) -> None:
    marker = tmp_path / "injected"
    stdin = f"dirs\t/tmp\t/tmp\nvolume\tx\t/tmp/$(touch {marker})\tep-x\t/tmp\tv\n"
    result = subprocess.run(
        ["bash", str(FACTS_PROGRAM)], input=stdin.encode(), capture_output=True, check=False
    )
    assert result.returncode == 2 and b"not a plain value" in result.stderr
    assert not marker.exists()


def test_through_a_remote_shell_the_program_and_its_records_arrive_intact(deployed: Expected) -> None:
    """ssh_runner's one remote command word list, run by a login shell as sshd would (`bash -c`
    of the string): the same facts as a local run."""
    remote_shell = ["bash", "-c", 'exec bash -c "$1"', "stand-in-ssh"]
    through_ssh = json.loads(
        ssh_runner(remote_shell, sudo=False)(facts_program_text(), facts_input(deployed))
    )
    local = json.loads(argv_runner()(facts_program_text(), facts_input(deployed)))
    assert through_ssh["volumes"] == local["volumes"]
    assert through_ssh["volumes"][0]["luksMetadata"]["segments"]["0"]["encryption"] == "aes-xts-plain64"
