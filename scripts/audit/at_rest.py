"""At rest: what the host's LUKS volumes, their mappings, mounts, Docker volumes, header backups
and unlock configuration really are, against what the stack's settings say (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components.at_rest.luks_scripts import SCRIPTS_DIR

from .model import Control, Expected, ExpectedVolume, Status


def _binding_record_type() -> str:
    """The token type of the LUKS program's binding records, as clevis.sh defines it."""
    found = re.search(r"^EP_BINDING_TOKEN=([a-z-]+)$", (SCRIPTS_DIR / "clevis.sh").read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError("components/scripts/luks/clevis.sh defines no EP_BINDING_TOKEN")
    return found.group(1)


BINDING_RECORD_TYPE = _binding_record_type()
ROOT_ONLY_MODES = ("400", "600")
SWAP_ADVICE = "run the host without swap or with encrypted swap (docs/services.md)"


def _control(id_: str, promise: str, status: Status, summary: str, /, **details: Any) -> Control:
    return Control(id_, "at-rest", promise, status, summary, details)


def dump_field(dump: str | None, name: str) -> str | None:
    """One `Name: value` field of the text luksDump (UUID, Version, Label)."""
    for line in (dump or "").splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    return None


def status_fields(status: str | None) -> dict[str, str]:
    """`cryptsetup status` as fields (type, cipher, keysize, device, ...)."""
    fields: dict[str, str] = {}
    for line in (status or "").splitlines()[1:]:
        key, sep, value = line.strip().partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _clevis_slots(metadata: Mapping[str, Any]) -> set[str]:
    slots: set[str] = set()
    for token in (metadata.get("tokens") or {}).values():
        if token.get("type") == "clevis":
            slots.update(str(s) for s in token.get("keyslots") or [])
    return slots


def _binding_record(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The newest binding record token of the LUKS program (clevis.sh ep_binding_write)."""
    records = [t for t in (metadata.get("tokens") or {}).values() if t.get("type") == BINDING_RECORD_TYPE]
    if not records:
        return None
    return max(records, key=lambda t: int(str(t.get("generation") or 0)))


def _format(volume: ExpectedVolume, facts: Mapping[str, Any]) -> Control:
    id_ = f"at-rest.luks2[{volume.name}]"
    if facts.get("sourceStat") is None:
        return _control(
            id_, "luks-volumes", "fail", f"{volume.source} does not exist on the host", source=volume.source
        )
    if not facts.get("isLuks"):
        return _control(
            id_, "luks-volumes", "fail", f"{volume.source} holds no LUKS header", source=volume.source
        )
    version = dump_field(facts.get("luksDump"), "Version")
    uuid = dump_field(facts.get("luksDump"), "UUID")
    details = {"source": volume.source, "version": version, "uuid": uuid, "expectedUuid": volume.luks_uuid}
    if version != "2":
        return _control(
            id_, "luks-volumes", "fail", f"{volume.source} is LUKS version {version}, not LUKS2", **details
        )
    if facts.get("luksMetadata") is None:
        return _control(
            id_,
            "luks-volumes",
            "fail",
            f"{volume.source} is LUKS2, but the host's cryptsetup printed no JSON metadata "
            "(luksDump --dump-json-metadata needs cryptsetup 2.4 or later)",
            **details,
        )
    if uuid != volume.luks_uuid:
        return _control(
            id_,
            "luks-volumes",
            "fail",
            f"{volume.source} is another LUKS2 device (UUID {uuid}, the stack's is {volume.luks_uuid})",
            **details,
        )
    return _control(id_, "luks-volumes", "pass", f"{volume.source} is this stack's LUKS2 device", **details)


def _cipher(volume: ExpectedVolume, metadata: Mapping[str, Any], expected: Expected) -> Control:
    id_ = f"at-rest.cipher[{volume.name}]"
    segments = metadata.get("segments") or {}
    ciphers = sorted({str(s.get("encryption")) for s in segments.values() if s.get("type") == "crypt"})
    key_bits = sorted({int(k.get("key_size", 0)) * 8 for k in (metadata.get("keyslots") or {}).values()})
    details = {
        "segments": ciphers,
        "keyBits": key_bits,
        "expectedCipher": expected.cipher,
        "expectedKeyBits": expected.key_size_bits,
    }
    if ciphers != [expected.cipher] or key_bits != [expected.key_size_bits]:
        return _control(
            id_,
            "aes-256-xts",
            "fail",
            f"data encrypted with {', '.join(ciphers) or 'nothing'} and {key_bits} bit keys, the stack says "
            f"{expected.cipher} with {expected.key_size_bits} bits",
            **details,
        )
    return _control(
        id_, "aes-256-xts", "pass", f"{expected.cipher}, {expected.key_size_bits}-bit volume key", **details
    )


def _pbkdf(volume: ExpectedVolume, metadata: Mapping[str, Any], expected: Expected) -> Control:
    id_ = f"at-rest.pbkdf[{volume.name}]"
    clevis = _clevis_slots(metadata)
    slots = {n: s for n, s in (metadata.get("keyslots") or {}).items() if n not in clevis}
    problems: list[str] = []
    kdfs: dict[str, Any] = {}
    for number, slot in sorted(slots.items()):
        kdf = slot.get("kdf") or {}
        kdfs[number] = {k: kdf.get(k) for k in ("type", "time", "memory", "cpus", "iterations", "hash")}
        if kdf.get("type") != expected.pbkdf:
            problems.append(f"slot {number} uses {kdf.get('type')}, not {expected.pbkdf}")
            continue
        forced = {
            "memory": expected.pbkdf_memory_kib,
            "cpus": expected.pbkdf_parallel,
            ("iterations" if expected.pbkdf == "pbkdf2" else "time"): expected.pbkdf_iterations,
        }
        for key, want in forced.items():
            if want is not None and kdf.get(key) != want:
                problems.append(f"slot {number} has {key} {kdf.get(key)}, the settings force {want}")
    details = {"passphraseSlots": kdfs, "clevisSlots": sorted(clevis)}
    if not slots:
        return _control(id_, "key-management", "fail", "no passphrase key slot", **details)
    if problems:
        return _control(id_, "key-management", "fail", "; ".join(problems), **details)
    return _control(
        id_,
        "key-management",
        "pass",
        f"passphrase slots derive their key with {expected.pbkdf} as set",
        **details,
    )


def _key_slots(volume: ExpectedVolume, metadata: Mapping[str, Any]) -> Control:
    """One passphrase slot (the current key version: a rotation removes the previous one), plus the
    clevis slot recorded for this configuration and key version in tang/tpm2 mode."""
    id_ = f"at-rest.key-slots[{volume.name}]"
    active = sorted((metadata.get("keyslots") or {}), key=int)
    clevis = _clevis_slots(metadata)
    passphrase = [s for s in active if s not in clevis]
    record = _binding_record(metadata)
    details: dict[str, Any] = {
        "activeSlots": active,
        "clevisSlots": sorted(clevis, key=int),
        "keyVersion": volume.key_version,
        "bindingRecord": None
        if record is None
        else {k: record.get(k) for k in ("binding", "current", "owned", "generation")},
    }
    if len(passphrase) != 1:
        return _control(
            id_,
            "key-management",
            "fail",
            f"{len(passphrase)} passphrase slots ({', '.join(passphrase) or 'none'}); one is expected, for key version "
            f"{volume.key_version} (a second is an interrupted rotation or a slot added by hand: an old key still opens)",
            **details,
        )
    if volume.binding is None:
        if clevis:
            return _control(
                id_,
                "key-management",
                "warn",
                f"clevis slots {', '.join(sorted(clevis, key=int))} although unlock is {volume.unlock}",
                **details,
            )
        return _control(
            id_,
            "key-management",
            "pass",
            f"one passphrase slot (key version {volume.key_version})",
            **details,
        )
    if record is None:
        return _control(
            id_,
            "key-management",
            "fail",
            f"unlock is {volume.unlock} but no clevis binding record is in the header",
            **details,
        )
    current = str(record.get("current") or "").strip()
    if record.get("binding") != volume.binding:
        return _control(
            id_,
            "key-management",
            "fail",
            f"the clevis slot {current} is bound for another configuration or key version than {volume.key_version}",
            **details,
        )
    if current not in clevis:
        return _control(
            id_,
            "key-management",
            "fail",
            f"the recorded clevis slot {current} is not an active clevis slot",
            **details,
        )
    owned = set(str(record.get("owned") or "").split())
    foreign = sorted(clevis - owned - {current}, key=int)
    if foreign:
        return _control(
            id_,
            "key-management",
            "warn",
            f"clevis slots {', '.join(foreign)} were bound by hand, not by the stack",
            **details,
        )
    return _control(
        id_,
        "key-management",
        "pass",
        f"one passphrase slot and clevis slot {current}, bound for key version {volume.key_version}",
        **details,
    )


def _mapping(volume: ExpectedVolume, facts: Mapping[str, Any], expected: Expected) -> Control:
    id_ = f"at-rest.mapping[{volume.name}]"
    status = facts.get("mapperStatus")
    if status is None:
        return _control(
            id_,
            "luks-volumes",
            "fail",
            f"{volume.mapper_path} is not active: the volume is locked (or this host has no device-mapper)",
        )
    fields = status_fields(status)
    details = {k: fields.get(k) for k in ("type", "cipher", "keysize", "device", "mode")}
    problems = []
    if fields.get("type") != "LUKS2":
        problems.append(f"type {fields.get('type')}")
    if fields.get("cipher") != expected.cipher:
        problems.append(f"cipher {fields.get('cipher')}")
    if fields.get("keysize") != f"{expected.key_size_bits} bits":
        problems.append(f"key size {fields.get('keysize')}")
    # The mapping's backing: the device itself, or the loop device's file for an image file.
    backing = fields.get("loop") or fields.get("device")
    sources = {volume.source, str(facts.get("sourceRealpath") or volume.source)}
    details["loop"] = fields.get("loop")
    if backing not in sources:
        problems.append(f"backing {backing} (not {volume.source})")
    if problems:
        return _control(
            id_,
            "aes-256-xts",
            "fail",
            f"{volume.mapper_path} is open with {', '.join(problems)}; expected LUKS2 {expected.cipher} "
            f"{expected.key_size_bits} bits on {volume.source}",
            **details,
        )
    return _control(
        id_, "aes-256-xts", "pass", f"{volume.mapper_path} is open as LUKS2 {expected.cipher}", **details
    )


def _mount(volume: ExpectedVolume, facts: Mapping[str, Any]) -> tuple[Control, bool]:
    id_ = f"at-rest.mount[{volume.name}]"
    found = ((facts.get("mount") or {}).get("filesystems") or [None])[0]
    if found is None:
        return _control(id_, "luks-volumes", "fail", f"nothing is mounted at {volume.mount_point}"), False
    source = str(found.get("source") or "")
    options = str(found.get("options") or "").split(",")
    details = {"source": source, "fstype": found.get("fstype"), "options": options}
    if source.split("[")[0] != volume.mapper_path:
        return _control(
            id_,
            "luks-volumes",
            "fail",
            f"{volume.mount_point} is mounted from {source}, not from {volume.mapper_path}: data written there is not encrypted",
            **details,
        ), False
    missing = [o for o in ("nodev", "nosuid") if o not in options]
    if missing:
        return _control(
            id_, "luks-volumes", "warn", f"{volume.mount_point} lacks {', '.join(missing)}", **details
        ), True
    return _control(
        id_, "luks-volumes", "pass", f"{volume.mount_point} is the mapper's filesystem", **details
    ), True


def _docker_volume(
    volume: ExpectedVolume, facts: Mapping[str, Any], mounted: bool, docker_answered: bool
) -> Control:
    id_ = f"at-rest.docker-volume[{volume.name}]"
    inspected = facts.get("dockerVolume")
    if not docker_answered:
        return _control(
            id_,
            "luks-volumes",
            "fail",
            f"Docker did not answer on the host: {volume.docker_volume} cannot be checked",
        )
    if not inspected:
        return _control(id_, "luks-volumes", "fail", f"Docker has no volume {volume.docker_volume}")
    options = (inspected[0].get("Options") or {}) if isinstance(inspected, list) else {}
    device = str(options.get("device") or "")
    details = {
        "options": options,
        "mountpoint": inspected[0].get("Mountpoint"),
        "expectedDevice": volume.data_dir,
    }
    if options.get("type") != "none" or options.get("o") != "bind" or device != volume.data_dir:
        return _control(
            id_,
            "luks-volumes",
            "fail",
            f"{volume.docker_volume} does not bind {volume.data_dir} (device {device or 'none'}): its data is not on the encrypted volume",
            **details,
        )
    if not device.startswith(volume.mount_point.rstrip("/") + "/"):
        return _control(id_, "luks-volumes", "fail", f"{device} is outside {volume.mount_point}", **details)
    if not mounted:
        return _control(
            id_,
            "luks-volumes",
            "fail",
            f"{volume.docker_volume} binds {device}, but {volume.mount_point} is not the mapper's filesystem",
            **details,
        )
    return _control(
        id_,
        "luks-volumes",
        "pass",
        f"{volume.docker_volume} binds {device} inside the mounted mapper",
        **details,
    )


def _header_backup(volume: ExpectedVolume, facts: Mapping[str, Any], now: int | None) -> Control:
    id_ = f"at-rest.header-backup[{volume.name}]"
    backup = facts.get("headerBackup") or {}
    latest = backup.get("latest")
    if latest is None or backup.get("stat") is None:
        return _control(
            id_,
            "key-management",
            "fail",
            f"no header backup ({volume.name}/latest under the header backup directory)",
        )
    mode, owner, _size, mtime, *_ = str(backup["stat"]).split(" ")
    age_days = None if now is None else round((now - int(mtime)) / 86400, 1)
    details = {"file": latest, "mode": mode, "owner": owner, "ageDays": age_days}
    metadata = backup.get("luksMetadata")
    if metadata is None:
        return _control(
            id_, "key-management", "fail", f"{latest} does not parse as a LUKS2 header", **details
        )
    if owner != "root" or mode not in ROOT_ONLY_MODES:
        return _control(
            id_,
            "key-management",
            "fail",
            f"{latest} is not root-only (mode {mode}, owner {owner})",
            **details,
        )
    device = facts.get("luksMetadata") or {}
    if device and (
        metadata.get("digests") != device.get("digests")
        or sorted(metadata.get("keyslots") or {}) != sorted(device.get("keyslots") or {})
    ):
        return _control(
            id_,
            "key-management",
            "warn",
            f"{latest} ({age_days} days old) is of an older header: its key slots or volume key digest differ from the device's",
            **details,
        )
    return _control(
        id_,
        "key-management",
        "pass",
        f"{latest} parses and matches the device's header ({age_days} days old)",
        **details,
    )


def _unlock(volume: ExpectedVolume, facts: Mapping[str, Any]) -> Control:
    id_ = f"at-rest.unlock[{volume.name}]"
    keyfile = facts.get("keyfile") or {}
    path, stat = keyfile.get("path"), keyfile.get("stat")
    crypttab = [line for line in str(facts.get("crypttab") or "").splitlines() if line.strip()]
    details = {
        "mode": volume.unlock,
        "keyfile": path,
        "keyfilePresent": stat is not None,
        "crypttab": crypttab,
    }
    if volume.unlock == "crypttab":
        if stat is None:
            return _control(
                id_, "physical-access", "fail", f"unlock is crypttab but {path} does not exist", **details
            )
        mode, owner, *_ = str(stat).split(" ")
        if owner != "root" or mode not in ROOT_ONLY_MODES:
            return _control(
                id_,
                "physical-access",
                "fail",
                f"{path} is not root-only (mode {mode}, owner {owner})",
                **details,
            )
        if len(crypttab) != 1 or crypttab[0].split()[2:3] != [path]:
            return _control(
                id_,
                "physical-access",
                "fail",
                f"/etc/crypttab has no entry for {volume.mapper} with {path}",
                **details,
            )
        return _control(
            id_, "physical-access", "pass", f"unlocked at boot with the root-only {path}", **details
        )
    if stat is not None:
        return _control(
            id_,
            "physical-access",
            "fail",
            f"unlock is {volume.unlock}, yet a key file {path} is on the host",
            **details,
        )
    if volume.unlock == "manual":
        if crypttab:
            return _control(
                id_,
                "physical-access",
                "fail",
                f"unlock is manual but /etc/crypttab unlocks {volume.mapper}",
                **details,
            )
        return _control(
            id_, "physical-access", "pass", "no key on the host; unlocked by the operator", **details
        )
    entry = crypttab[0].split() if len(crypttab) == 1 else []
    if entry[2:3] != ["none"] or "noauto" not in (entry[3] if len(entry) > 3 else "").split(","):
        return _control(
            id_,
            "physical-access",
            "fail",
            f"/etc/crypttab's entry for {volume.mapper} is not the clevis one (key none, noauto)",
            **details,
        )
    return _control(
        id_,
        "physical-access",
        "pass",
        f"no key on the host; unlocked through clevis ({volume.unlock})",
        **details,
    )


def _on_encryption(types: str | None) -> bool:
    return "crypt" in (types or "").split()


def host_controls(expected: Expected, facts: Mapping[str, Any]) -> list[Control]:
    controls: list[Control] = []
    swaps = facts.get("swaps") or []
    plain = [s["path"] for s in swaps if not _on_encryption(s.get("deviceTypes"))]
    if plain:
        controls.append(
            _control(
                "at-rest.swap",
                "not-protected-running",
                "warn",
                f"swap outside encryption: {', '.join(plain)}; {SWAP_ADVICE}",
                swaps=swaps,
            )
        )
    else:
        controls.append(
            _control(
                "at-rest.swap",
                "not-protected-running",
                "pass",
                "no swap, or only encrypted swap",
                swaps=swaps,
            )
        )
    root = facts.get("dockerRoot")
    if root is None:
        controls.append(
            _control(
                "at-rest.docker-root", "not-protected-running", "skip", "Docker did not answer on the host"
            )
        )
    elif _on_encryption(root.get("deviceTypes")):
        controls.append(
            _control(
                "at-rest.docker-root",
                "not-protected-running",
                "pass",
                f"Docker's root {root['path']} is on an encrypted device",
                **root,
            )
        )
    else:
        controls.append(
            _control(
                "at-rest.docker-root",
                "not-protected-running",
                "warn",
                f"Docker's root {root['path']} ({root.get('source')}) is outside encryption: image layers and the bounded log buffer stay there by design",
                **root,
            )
        )
    tmpfs = [f.get("target") for f in ((facts.get("tmpfs") or {}).get("filesystems") or [])]
    status: Status = "warn" if plain else "pass"
    summary = f"{len(tmpfs)} tmpfs mounts; " + (
        f"their pages can reach the unencrypted swap ({SWAP_ADVICE})"
        if plain
        else "memory only (no unencrypted swap)"
    )
    controls.append(_control("at-rest.tmpfs", "not-protected-running", status, summary, mounts=tmpfs))
    declared = {f"{v.name}.key" for v in expected.volumes if v.unlock == "crypttab"}
    entries = str((facts.get("keysDir") or {}).get("entries") or "").split()
    stray = sorted(set(entries) - declared)
    if stray:
        controls.append(
            _control(
                "at-rest.key-files",
                "physical-access",
                "warn",
                f"key files of no crypttab volume of the stack: {', '.join(stray)}",
                keysDir=expected.keys_dir,
                files=stray,
            )
        )
    else:
        controls.append(
            _control(
                "at-rest.key-files",
                "physical-access",
                "pass",
                "key files only of the stack's crypttab volumes",
                keysDir=expected.keys_dir,
                files=entries,
            )
        )
    return controls


def check(expected: Expected, facts: Mapping[str, Any]) -> list[Control]:
    """Every at-rest control for `facts` (the facts program's document)."""
    by_name = {v.get("name"): v for v in facts.get("volumes") or []}
    now = facts.get("now")
    controls: list[Control] = []
    for volume in expected.volumes:
        found = by_name.get(volume.name)
        if found is None:
            controls.append(
                _control(
                    f"at-rest.luks2[{volume.name}]",
                    "luks-volumes",
                    "fail",
                    "the facts program reported nothing for this volume",
                )
            )
            continue
        fmt = _format(volume, found)
        controls.append(fmt)
        metadata = found.get("luksMetadata")
        if fmt.status == "pass" and metadata is not None:
            controls += [
                _cipher(volume, metadata, expected),
                _pbkdf(volume, metadata, expected),
                _key_slots(volume, metadata),
            ]
        controls.append(_mapping(volume, found, expected))
        mount, mounted = _mount(volume, found)
        controls += [mount, _docker_volume(volume, found, mounted, facts.get("dockerVolumes") is not None)]
        controls.append(_header_backup(volume, found, None if now is None else int(now)))
        controls.append(_unlock(volume, found))
    return controls + host_controls(expected, facts)
