"""scripts/audit/at_rest.py: each at-rest control passes on the facts of a volume deployed as
declared, and fails (or warns) naming the fact when that one fact is broken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scripts.audit import at_rest
from scripts.audit.model import Control, Expected
from tests.support import audit_facts as af

pytestmark = pytest.mark.unit


def controls_of(want: Expected, facts: dict[str, Any]) -> dict[str, Control]:
    return {c.id: c for c in at_rest.check(want, facts)}


@pytest.mark.parametrize("unlock", ["crypttab", "manual", "tang", "tpm2"])
def test_a_volume_deployed_as_declared_passes_every_control(unlock: str) -> None:
    want = af.expected(af.volume("app-db", unlock))
    facts = af.host_facts(want)
    if unlock == "manual":
        facts["volumes"][0]["crypttab"] = ""
    controls = controls_of(want, facts)
    per_volume = [c for c in controls.values() if c.id.endswith("[app-db]")]
    assert {c.id.split("[")[0] for c in per_volume} == {
        "at-rest.luks2", "at-rest.cipher", "at-rest.pbkdf", "at-rest.key-slots", "at-rest.mapping",
        "at-rest.mount", "at-rest.docker-volume", "at-rest.header-backup", "at-rest.unlock",
    }  # fmt: skip
    assert {c.id: c.status for c in controls.values() if c.status != "pass"} == {}


def _volume(facts: dict[str, Any]) -> dict[str, Any]:
    volume: dict[str, Any] = facts["volumes"][0]
    return volume


def _set_uuid(f: dict[str, Any]) -> None:
    _volume(f)["luksDump"] = _volume(f)["luksDump"].replace("UUID:          \t", "UUID:          \tff")


def _luks1(f: dict[str, Any]) -> None:
    _volume(f)["luksDump"] = _volume(f)["luksDump"].replace("Version:       \t2", "Version:       \t1")
    _volume(f)["luksMetadata"] = None


def _no_json_dump(f: dict[str, Any]) -> None:
    _volume(f)["luksMetadata"] = None


def _weak_cipher(f: dict[str, Any]) -> None:
    _volume(f)["luksMetadata"]["segments"]["0"]["encryption"] = "aes-cbc-essiv:sha256"


def _small_key(f: dict[str, Any]) -> None:
    _volume(f)["luksMetadata"]["keyslots"]["0"]["key_size"] = 32


def _pbkdf2(f: dict[str, Any]) -> None:
    _volume(f)["luksMetadata"]["keyslots"]["0"]["kdf"] = {"type": "pbkdf2", "iterations": 1000}


def _cheap_memory(f: dict[str, Any]) -> None:
    _volume(f)["luksMetadata"]["keyslots"]["0"]["kdf"]["memory"] = 32


def _second_passphrase(f: dict[str, Any]) -> None:
    slots = _volume(f)["luksMetadata"]["keyslots"]
    slots["3"] = dict(slots["0"])


def _mapper_closed(f: dict[str, Any]) -> None:
    _volume(f)["mapperStatus"] = None


def _mapper_weak(f: dict[str, Any]) -> None:
    _volume(f)["mapperStatus"] = (
        _volume(f)["mapperStatus"].replace("aes-xts-plain64", "aes-cbc-plain").replace("512 bits", "256 bits")
    )


def _mapper_on_another_device(f: dict[str, Any]) -> None:
    _volume(f)["mapperStatus"] = _volume(f)["mapperStatus"].replace(
        f"loop:    {_volume(f)['source']}", "loop:    /tmp/other.img"
    )


def _not_mounted(f: dict[str, Any]) -> None:
    _volume(f)["mount"] = None


def _mounted_from_elsewhere(f: dict[str, Any]) -> None:
    _volume(f)["mount"]["filesystems"][0]["source"] = "/dev/sda3"


def _docker_volume_elsewhere(f: dict[str, Any]) -> None:
    _volume(f)["dockerVolume"][0]["Options"]["device"] = "/var/lib/plain/data"


def _docker_volume_missing(f: dict[str, Any]) -> None:
    _volume(f)["dockerVolume"] = None


def _no_header_backup(f: dict[str, Any]) -> None:
    _volume(f)["headerBackup"] = {"latest": None, "stat": None, "luksMetadata": None}


def _header_backup_unparsable(f: dict[str, Any]) -> None:
    _volume(f)["headerBackup"]["luksMetadata"] = None


def _header_backup_readable(f: dict[str, Any]) -> None:
    _volume(f)["headerBackup"]["stat"] = "644 root 16777216 1 regular file"


def _no_keyfile(f: dict[str, Any]) -> None:
    _volume(f)["keyfile"]["stat"] = None


def _keyfile_readable(f: dict[str, Any]) -> None:
    _volume(f)["keyfile"]["stat"] = "644 root 64 1 regular file"


def _no_crypttab(f: dict[str, Any]) -> None:
    _volume(f)["crypttab"] = ""


def _missing_source(f: dict[str, Any]) -> None:
    _volume(f)["sourceStat"] = None


def _not_luks(f: dict[str, Any]) -> None:
    _volume(f)["isLuks"] = False


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str, str, str]] = [
    ("missing source", _missing_source, "at-rest.luks2[app-db]", "fail", "does not exist"),
    ("no LUKS", _not_luks, "at-rest.luks2[app-db]", "fail", "no LUKS header"),
    ("LUKS1", _luks1, "at-rest.luks2[app-db]", "fail", "not LUKS2"),
    ("no JSON dump", _no_json_dump, "at-rest.luks2[app-db]", "fail", "needs cryptsetup 2.4"),
    ("another device", _set_uuid, "at-rest.luks2[app-db]", "fail", "another LUKS2 device"),
    ("weak cipher", _weak_cipher, "at-rest.cipher[app-db]", "fail", "aes-cbc-essiv:sha256"),
    ("256-bit key", _small_key, "at-rest.cipher[app-db]", "fail", "[256] bit keys"),
    ("pbkdf2", _pbkdf2, "at-rest.pbkdf[app-db]", "fail", "uses pbkdf2, not argon2id"),
    ("cheap memory", _cheap_memory, "at-rest.pbkdf[app-db]", "fail", "memory 32, the settings force 65536"),
    ("old passphrase slot", _second_passphrase, "at-rest.key-slots[app-db]", "fail", "2 passphrase slots"),
    ("locked", _mapper_closed, "at-rest.mapping[app-db]", "fail", "is not active"),
    (
        "opened weaker",
        _mapper_weak,
        "at-rest.mapping[app-db]",
        "fail",
        "cipher aes-cbc-plain, key size 256 bits",
    ),
    (
        "opened elsewhere",
        _mapper_on_another_device,
        "at-rest.mapping[app-db]",
        "fail",
        "backing /tmp/other.img",
    ),
    ("not mounted", _not_mounted, "at-rest.mount[app-db]", "fail", "nothing is mounted"),
    ("mounted elsewhere", _mounted_from_elsewhere, "at-rest.mount[app-db]", "fail", "from /dev/sda3"),
    (
        "not mounted, volume",
        _not_mounted,
        "at-rest.docker-volume[app-db]",
        "fail",
        "is not the mapper's filesystem",
    ),
    (
        "volume elsewhere",
        _docker_volume_elsewhere,
        "at-rest.docker-volume[app-db]",
        "fail",
        "/var/lib/plain/data",
    ),
    ("no volume", _docker_volume_missing, "at-rest.docker-volume[app-db]", "fail", "Docker has no volume"),
    ("no header backup", _no_header_backup, "at-rest.header-backup[app-db]", "fail", "no header backup"),
    (
        "bad header backup",
        _header_backup_unparsable,
        "at-rest.header-backup[app-db]",
        "fail",
        "does not parse",
    ),
    (
        "readable header backup",
        _header_backup_readable,
        "at-rest.header-backup[app-db]",
        "fail",
        "not root-only",
    ),
    ("old header backup", _second_passphrase, "at-rest.header-backup[app-db]", "warn", "older header"),
    ("no keyfile", _no_keyfile, "at-rest.unlock[app-db]", "fail", "does not exist"),
    ("readable keyfile", _keyfile_readable, "at-rest.unlock[app-db]", "fail", "not root-only"),
    ("no crypttab", _no_crypttab, "at-rest.unlock[app-db]", "fail", "/etc/crypttab has no entry"),
]


@pytest.mark.parametrize(("case", "breaks", "control", "status", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_one_broken_fact_is_named_by_its_control(
    case: str, breaks: Callable[[dict[str, Any]], None], control: str, status: str, words: str
) -> None:
    want = af.expected()
    facts = af.host_facts(want)
    breaks(facts)
    found = controls_of(want, facts)[control]
    assert (found.status, words in found.summary) == (status, True), found


@pytest.mark.parametrize("unlock", ["manual", "tang", "tpm2"])
def test_a_key_file_where_none_should_be_fails(unlock: str) -> None:
    want = af.expected(af.volume("app-db", unlock))
    facts = af.host_facts(want)
    _volume(facts)["keyfile"]["stat"] = "400 root 64 1 regular file"
    control = controls_of(want, facts)["at-rest.unlock[app-db]"]
    assert control.status == "fail" and "yet a key file" in control.summary


def test_a_clevis_slot_bound_for_an_older_key_version_fails() -> None:
    want = af.expected(af.volume("app-db", "tang", key_version=2))
    facts = af.host_facts(want)
    _volume(facts)["luksMetadata"]["tokens"]["1"]["binding"] = af.volume(
        "app-db", "tang", key_version=1
    ).binding
    control = controls_of(want, facts)["at-rest.key-slots[app-db]"]
    assert control.status == "fail" and "another configuration or key version than 2" in control.summary


def test_tang_without_a_binding_record_fails_and_a_hand_bound_slot_warns() -> None:
    want = af.expected(af.volume("app-db", "tang"))
    facts = af.host_facts(want)
    del _volume(facts)["luksMetadata"]["tokens"]["1"]
    assert controls_of(want, facts)["at-rest.key-slots[app-db]"].status == "fail"
    facts = af.host_facts(want)
    metadata = _volume(facts)["luksMetadata"]
    metadata["keyslots"]["5"] = dict(metadata["keyslots"]["1"])
    metadata["tokens"]["2"] = {"type": "clevis", "keyslots": ["5"]}
    control = controls_of(want, facts)["at-rest.key-slots[app-db]"]
    assert control.status == "warn" and "clevis slots 5 were bound by hand" in control.summary


def test_a_benchmarked_kdf_is_judged_by_its_type_only() -> None:
    want = af.expected(pbkdf_memory_kib=None)
    facts = af.host_facts(want)
    _volume(facts)["luksMetadata"]["keyslots"]["0"]["kdf"]["memory"] = 12345
    assert controls_of(want, facts)["at-rest.pbkdf[app-db]"].status == "pass"


def test_a_volume_the_facts_program_did_not_report_fails() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["volumes"] = []
    assert controls_of(want, facts)["at-rest.luks2[app-db]"].status == "fail"


def test_what_stays_outside_encryption_warns() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["swaps"] = [{"path": "/dev/sda2", "type": "partition", "deviceTypes": "part\ndisk"}]
    facts["dockerRoot"] = {"path": "/var/lib/docker", "source": "/dev/sda1", "deviceTypes": "part\ndisk"}
    controls = controls_of(want, facts)
    assert {i: controls[i].status for i in ("at-rest.swap", "at-rest.docker-root", "at-rest.tmpfs")} == {
        "at-rest.swap": "warn",
        "at-rest.docker-root": "warn",
        "at-rest.tmpfs": "warn",
    }
    assert "/dev/sda2" in controls["at-rest.swap"].summary


def test_encrypted_swap_passes_and_no_docker_skips() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["swaps"] = [{"path": "/dev/dm-1", "type": "partition", "deviceTypes": "crypt\npart\ndisk"}]
    facts["dockerRoot"] = None
    controls = controls_of(want, facts)
    assert (controls["at-rest.swap"].status, controls["at-rest.docker-root"].status) == ("pass", "skip")


def test_a_key_file_of_no_declared_volume_warns() -> None:
    want = af.expected()
    facts = af.host_facts(want)
    facts["keysDir"]["entries"] += "\nold-volume.key"
    control = controls_of(want, facts)["at-rest.key-files"]
    assert control.status == "warn" and "old-volume.key" in control.summary


def test_the_binding_record_type_is_the_luks_programs() -> None:
    assert at_rest.BINDING_RECORD_TYPE == "encrypted-platform-binding"
