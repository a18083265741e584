"""The LUKS program renderer: pure, deterministic, no key anywhere in the text."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import replace

import pytest

from components.at_rest.luks_scripts import (
    LIBRARIES,
    PROGRAMS,
    SCRIPTS_DIR,
    render_program,
    volume_spec,
    volume_uuid,
)
from components.settings import parse_settings
from components.shell import invocation

PARAM_LINE = re.compile(r"^(EP_[A-Z0-9_]+)='(.*)'$")


def spec_for(raw: dict | None = None, name: str = "app-db", stack: str = "dev"):
    settings = parse_settings(raw or {})
    return volume_spec(
        name, settings.volumes[name], settings.encryption, project="encrypted-platform", stack=stack
    )


def params_of(program: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for line in program.splitlines() if (m := PARAM_LINE.match(line))}


def test_spec_derives_names_and_paths_from_settings() -> None:
    spec = spec_for({"encryption": {"root": "/data/enc", "stateDir": "/var/lib/ep"}})
    assert spec.mapper == "ep-app-db"
    assert spec.mount == "/data/enc/app-db"
    assert spec.data_dir == "/data/enc/app-db/data"
    assert spec.source == "/var/lib/ep/volumes/app-db.img"
    assert spec.cipher == "aes-xts-plain64" and spec.key_size_bits == 512


def test_device_backing_uses_the_device() -> None:
    spec = spec_for({"volumes": {"app-db": {"backing": "device", "device": "/dev/disk/by-id/virtio-db"}}})
    assert spec.backing == "device" and spec.source == "/dev/disk/by-id/virtio-db"


def test_uuid_is_stable_per_stack_and_volume() -> None:
    assert volume_uuid("p", "dev", "app-db") == volume_uuid("p", "dev", "app-db")
    assert volume_uuid("p", "dev", "app-db") != volume_uuid("p", "prod", "app-db")
    assert volume_uuid("p", "dev", "app-db") != volume_uuid("p", "dev", "logs")


def test_volume_key_version_overrides_the_default() -> None:
    spec = spec_for({"encryption": {"keyVersion": 3}, "volumes": {"app-db": {"keyVersion": 5}}})
    assert spec.key_version == 5
    assert spec_for({"encryption": {"keyVersion": 3}}).key_version == 3


@pytest.mark.parametrize("program", PROGRAMS)
def test_program_starts_with_a_complete_parameter_block(program: str) -> None:
    spec = spec_for({"encryption": {"kdf": {"memoryKib": 32768, "iterations": 4, "parallel": 1}}})
    text = render_program(program, spec)
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text.split("EP_VOLUME=")[0]
    params = params_of(text)
    assert params == spec.params()
    assert params["EP_CIPHER"] == "aes-xts-plain64"
    assert params["EP_KEY_SIZE"] == "512"
    assert params["EP_PBKDF_MEMORY"] == "32768"
    assert text.rstrip().endswith('ep_main "$@"')


def test_rendering_is_deterministic() -> None:
    spec = spec_for()
    assert render_program("ensure", spec) == render_program("ensure", spec)


def test_every_library_is_included() -> None:
    text = render_program("ensure", spec_for())
    for library in LIBRARIES:
        first_function = re.search(r"^(ep_[a-z_]+)\(\)", (SCRIPTS_DIR / library).read_text(), re.M)
        assert first_function, library
        assert f"\n{first_function.group(1)}() " in text
    assert "ep_unlock_helper_text()" in text


HOSTILE_VALUES = [
    "/srv/it's",
    "/srv/x'$(touch PWNED)'",
    '/srv/x"$(touch PWNED)"',
    "/srv/x`touch PWNED`",
    "/srv/a b\tc",
    "/srv/line\n$(touch PWNED)\n",
    "/srv/*?[a]",
    "/srv/x\\'\\$(touch PWNED)",
    "/srv/';touch PWNED;'",
]


@pytest.mark.parametrize("hostile", HOSTILE_VALUES)
def test_every_parameter_reaches_bash_byte_for_byte(hostile: str, tmp_path) -> None:
    spec = replace(
        spec_for(),
        source=hostile,
        mount=hostile,
        data_dir=f"{hostile}/data",
        keys_dir=hostile,
        header_backup_dir=hostile,
        label=hostile,
        clevis_config=hostile,
    )
    text = render_program("ensure", spec)
    block = text[: text.index("\n}\n") + 3]
    names = list(spec.params())
    dump = "".join(f'printf "%s\\0" "${name}"\n' for name in names)
    result = subprocess.run(
        ["bash", "-c", block + dump], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert result.stdout.split("\0")[:-1] == [spec.params()[name] for name in names]
    assert list(tmp_path.iterdir()) == [], "evaluating the parameter block ran a command"


def test_a_nul_byte_is_refused_at_rendering() -> None:
    with pytest.raises(ValueError, match="NUL"):
        render_program("ensure", replace(spec_for(), mount="/srv/\0x"))


def test_invocation_runs_bash_with_the_program_as_one_argument() -> None:
    text = render_program("ensure", spec_for())
    line = invocation(text, "ep-luks-ensure-app-db")
    argv = shlex.split(line)
    assert argv[:2] == ["bash", "-c"] and argv[2] == text and argv[3] == "ep-luks-ensure-app-db"
    assert shlex.split(invocation(text, "x", become=True))[:4] == ["sudo", "-n", "bash", "-c"]


def test_keys_are_read_only_from_stdin() -> None:
    text = render_program("ensure", spec_for())
    # A key variable may only go to the printf builtin (into a pipe or a process substitution),
    # to a shell function (no exec, so no argv), or into a test. Never to an external command.
    key_reference = re.compile(r"\$\{?(EP_KEY|EP_PREV_KEY|key)\b")
    to_function = re.compile(r"(^|[\s!(|&])ep_[a-z_]+\s+\"\$\{?(EP_KEY|EP_PREV_KEY)\}?\"")
    for line in text.splitlines():
        if not key_reference.search(line) or line.lstrip().startswith("#"):
            continue
        stripped = line.strip()
        assert (
            "printf '%s'" in line
            or to_function.search(line)
            or stripped.startswith(("if [", "[ ", "local ", "IFS="))
        ), line
    assert "export EP_KEY" not in text and "set -x" not in text
    assert "set +o xtrace" in text


TANG = {
    "unlockAtBoot": "tang",
    "tang": {
        "threshold": 2,
        "servers": [
            {"url": "http://tang-1.internal.example:7500", "thumbprint": "a" * 43},
            {"url": "https://tang-2.internal.example/tang", "thumbprint": "B" * 43},
        ],
    },
}


def test_tang_mode_passes_the_clevis_configuration_and_nothing_else_does() -> None:
    tang = params_of(render_program("ensure", spec_for({"encryption": TANG})))
    assert tang["EP_UNLOCK_AT_BOOT"] == "tang"
    assert json.loads(tang["EP_CLEVIS_CONFIG"]) == {
        "t": 2,
        "pins": {
            "tang": [
                {"url": "http://tang-1.internal.example:7500", "thp": "a" * 43},
                {"url": "https://tang-2.internal.example/tang", "thp": "B" * 43},
            ]
        },
    }
    for mode in ("crypttab", "manual"):
        other = params_of(render_program("ensure", spec_for({"encryption": {**TANG, "unlockAtBoot": mode}})))
        assert other["EP_CLEVIS_CONFIG"] == "", "a mode without Tang binds nothing"


def test_the_clevis_configuration_is_one_line_of_json_in_a_stable_order() -> None:
    first = spec_for({"encryption": TANG}).clevis_config
    assert "\n" not in first and first == spec_for({"encryption": TANG}).clevis_config
    assert first.startswith('{"t":2,"pins":{"tang":[{"url":')
