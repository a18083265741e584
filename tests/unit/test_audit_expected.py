"""scripts/audit/expected.py and host_facts.py: the expected facts come from the settings and the
outputs the program exports (or a `pulumi stack output --json` document), and the facts program
is told what to look at only through records it can check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.settings import parse_settings
from scripts.audit.expected import OutputsError, binding_hash, computed_outputs, expected_facts, read_outputs
from scripts.audit.host_facts import FACTS_PROGRAM, FactsError, facts_input, parse_facts
from tests.support import audit_facts as af
from tests.support.pinned_stack import pinned_stack_config

pytestmark = pytest.mark.unit


def settings():  # type: ignore[no-untyped-def]
    return parse_settings(pinned_stack_config("prod"), stack="prod")


def test_expected_volumes_are_the_outputs_of_the_settings() -> None:
    stack_settings = settings()
    want = expected_facts(stack_settings, "prod")
    outputs = computed_outputs(stack_settings, "prod")
    assert [v.name for v in want.volumes] == sorted(outputs["volumes"])
    first = want.volumes[0]
    assert first.luks_uuid == outputs["volumes"][first.name]["luksUuid"]
    assert first.mapper_path == outputs["volumes"][first.name]["mapper"]
    assert (want.cipher, want.key_size_bits) == ("aes-xts-plain64", 512)
    assert want.edge is not None and want.edge.headers["X-Content-Type-Options"] == "nosniff"
    assert want.edge.headers["Strict-Transport-Security"].startswith("max-age=")
    internal = {n["name"] for n in outputs["networks"].values() if n["role"] == "internal"}
    assert internal and set(want.internal_networks) == internal


def test_a_tang_volume_expects_the_binding_the_luks_program_records() -> None:
    stack_settings = settings()
    want = expected_facts(stack_settings, "prod")
    tang = [v for v in want.volumes if v.unlock == "tang"]
    assert tang, "prod's default unlock mode is tang"
    assert tang[0].binding == binding_hash(stack_settings.encryption.clevis_config(), tang[0].key_version)


def test_an_outputs_document_is_the_source_when_given(tmp_path: Path) -> None:
    stack_settings = settings()
    outputs = computed_outputs(stack_settings, "prod")
    name = sorted(outputs["volumes"])[0]
    outputs["volumes"][name]["keyVersion"] = 7
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    want = expected_facts(stack_settings, "prod", read_outputs(path))
    assert want.volumes[0].key_version == 7
    del outputs["volumes"][name]["luksUuid"]
    with pytest.raises(OutputsError, match=f"volumes.{name}.luksUuid"):
        expected_facts(stack_settings, "prod", outputs)


def test_an_unreadable_outputs_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text("[1]")
    with pytest.raises(OutputsError, match="not a JSON object"):
        read_outputs(path)
    with pytest.raises(OutputsError, match="cannot read"):
        read_outputs(tmp_path / "missing.json")


def test_the_facts_input_is_records_of_checked_fields() -> None:
    want = af.expected(af.volume("app-db"), af.volume("logs"))
    lines = facts_input(want).splitlines()
    assert lines[0] == "dirs\t/etc/encrypted-platform/keys\t/var/backups/encrypted-platform"
    assert lines[1].split("\t") == [
        "volume", "app-db", "/var/lib/encrypted-platform/volumes/app-db.img", "ep-app-db",
        "/srv/encrypted/app-db", "encrypted-platform-app-db",
    ]  # fmt: skip
    hostile = af.expected(
        af.volume("app-db").__class__(**{**af.volume("app-db").__dict__, "source": "/x\t$(reboot)"})
    )
    with pytest.raises(ValueError, match="not a plain path"):
        facts_input(hostile)


def test_facts_output_must_be_the_programs_document() -> None:
    assert parse_facts(b'{"schema": 1, "volumes": []}')["volumes"] == []
    with pytest.raises(FactsError, match="no JSON"):
        parse_facts(b"sudo: a password is required")
    with pytest.raises(FactsError, match="unknown schema"):
        parse_facts(b'{"schema": 2}')


def test_the_facts_program_reads_no_key_and_changes_nothing() -> None:
    text = FACTS_PROGRAM.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    code = "\n".join(line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#"))
    writer = re.compile(
        r"(^|[;&|({]|\$\(|then|else|do)\s*(mount|umount|rm|mv|cp|cat|tee|eval|dd|wipefs|mkfs\S*|clevis|shred|chmod|ln)\s"
        r"|cryptsetup\s+(open|luksOpen|close|luksAddKey|luksRemoveKey|luksFormat|token|reencrypt|luksHeaderRestore)",
        re.MULTILINE,
    )
    assert writer.findall(code) == []
    # No redirection writes a file: only stderr, /dev/null, descriptor duplications and the
    # reachability probe's TCP socket (bash's /dev/tcp, opened inside a container's network).
    redirections = re.findall(r"\d*>>?\s*[^\s;)]+", code)
    allowed = r"(2?>&[12]|2?>/dev/null|>\"/dev/tcp/\$0/\$1\"')"
    assert {r for r in redirections if not re.fullmatch(allowed, r)} == set()
    assert code.count("/dev/tcp/") == 1
    assert "--key-file" not in code
