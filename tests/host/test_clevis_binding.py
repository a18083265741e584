"""The clevis binding steps of the LUKS programs (components/scripts/luks/clevis.sh) against real
cryptsetup and clevis on image files, and a real Tang server in a network namespace
(tests/support/tanglab.py). Binding, re-binding, the binding record, interruptions and the slots
an operator bound by hand; the vm tier covers the boot unlock itself."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from components.at_rest.luks_scripts import LuksVolumeSpec
from tests.support.luks_lab import FAST_KDF, command_line, key_opens, luks_dump, make_spec, steps, with_source
from tests.support.tanglab import TangServer
from tests.support.tpmlab import SoftwareTPM

pytestmark = pytest.mark.needs("tang", "swtpm")

KEY1 = secrets.token_hex(32)
CONVERGE = "ep_main() { ep_require_root; ep_read_keys; ep_clevis_converge; ep_report; }\nep_main\n"
REMOVE = "ep_main() { ep_require_root; ep_clevis_remove; ep_report; }\nep_main\n"
RECORD = "ep_main() { ep_binding_record; }\nep_main\n"


@pytest.fixture(scope="module")
def tang(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TangServer]:
    server = TangServer(tmp_path_factory.mktemp("tang"))
    try:
        server.start()
        yield server
    finally:
        server.close()


def volume_spec(
    tang: TangServer, image: Path, *, key_version: int = 1, thumbprint: str | None = None
) -> LuksVolumeSpec:
    spec = make_spec(
        "app-db",
        root=image.parent,
        volume={"keyVersion": key_version},
        encryption={
            "unlockAtBoot": "tang",
            "tang": {
                "servers": [
                    {"url": tang.local_url, "thumbprint": thumbprint or tang.signing_thumbprints()[0]}
                ]
            },
        },
    )
    return with_source(spec, image)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "app-db.img"
    subprocess.run(["truncate", "-s", "40M", str(path)], check=True)
    subprocess.run(
        ["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", FAST_KDF["pbkdf"],
         "--pbkdf-memory", str(FAST_KDF["memoryKib"]), "--pbkdf-force-iterations", str(FAST_KDF["iterations"]),
         "--pbkdf-parallel", "1", "--key-file=-", str(path)],
        input=KEY1.encode(), check=True,
    )  # fmt: skip
    return path


def run(
    tang: TangServer, program: str, stdin: str = "", *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        tang.in_namespace(["/bin/sh", "-c", command_line(program)]),
        input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert KEY1 not in result.stdout and KEY1 not in result.stderr, "a key leaked into the output"
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def converge(
    tang: TangServer, spec: LuksVolumeSpec, keys: str, **kw: bool
) -> subprocess.CompletedProcess[str]:
    return run(tang, steps(spec, CONVERGE), keys, **kw)


def actions(result: subprocess.CompletedProcess[str]) -> set[str]:
    return set(json.loads(result.stdout.strip().splitlines()[-1])["actions"].split(","))


def clevis_slots(image: Path) -> list[str]:
    listing = subprocess.run(
        ["clevis", "luks", "list", "-d", str(image)], capture_output=True, text=True
    ).stdout
    return [line.split(":", 1)[0] for line in listing.splitlines() if line.strip()]


def keyslots(image: Path) -> list[str]:
    dump = luks_dump(image)
    section = dump.split("Keyslots:\n", 1)[1].split("\nTokens:", 1)[0]
    return [
        line.split(":")[0].strip()
        for line in section.splitlines()
        if line.startswith("  ") and line[2].isdigit()
    ]


def record(tang: TangServer, spec: LuksVolumeSpec) -> list[str]:
    return run(tang, steps(spec, RECORD)).stdout.split()


def tang_slot_opens(tang: TangServer, image: Path, slot: str) -> bool:
    """clevis recovers the slot's key through the server, and that key opens the header."""
    key = subprocess.run(
        tang.in_namespace(["clevis", "luks", "pass", "-d", str(image), "-s", slot]),
        capture_output=True,
        check=True,
    ).stdout
    return key_opens(image, key.decode())


def bind_by_hand(tang: TangServer, image: Path) -> str:
    """An operator's own clevis binding (here to the same server; TPM2 would do the same)."""
    before = set(clevis_slots(image))
    config = json.dumps({"url": tang.local_url, "thp": tang.signing_thumbprints()[0]})
    subprocess.run(
        tang.in_namespace(["clevis", "luks", "bind", "-y", "-k", "-", "-d", str(image), "tang", config]),
        input=KEY1.encode(), capture_output=True, check=True,
    )  # fmt: skip
    [slot] = set(clevis_slots(image)) - before
    return slot


def test_converge_binds_one_slot_that_opens_through_tang_and_records_it(
    tang: TangServer, image: Path
) -> None:
    spec = volume_spec(tang, image)
    assert "clevis-bound" in actions(converge(tang, spec, KEY1 + "\n"))
    [slot] = clevis_slots(image)
    assert tang_slot_opens(tang, image, slot)
    generation, binding, current, *owned = record(tang, spec)
    assert current == slot and owned == [slot] and len(binding) == 64 and int(generation) >= 1
    assert key_opens(image, KEY1), "the passphrase slot is untouched"
    assert actions(converge(tang, spec, KEY1 + "\n")) == {"none"}, "a second run changes nothing"


def test_a_new_key_version_or_configuration_rebinds_and_unbinds_only_the_old_slot(
    tang: TangServer, image: Path
) -> None:
    spec = volume_spec(tang, image)
    converge(tang, spec, KEY1 + "\n")
    [first] = clevis_slots(image)
    rotated = replace(spec, key_version=2)
    assert {"clevis-bound", "clevis-unbound"} <= actions(converge(tang, rotated, KEY1 + "\n"))
    [second] = clevis_slots(image)
    assert second != first and tang_slot_opens(tang, image, second)
    _, _, current, *owned = record(tang, rotated)
    assert current == second and owned == [second]
    respelled = replace(rotated, clevis_config=rotated.clevis_config + " ")
    assert "clevis-bound" in actions(converge(tang, respelled, KEY1 + "\n")), "any change of the text rebinds"
    assert len(clevis_slots(image)) == 1


def test_an_operators_own_binding_is_never_unbound(tang: TangServer, image: Path) -> None:
    spec = volume_spec(tang, image)
    converge(tang, spec, KEY1 + "\n")
    own = bind_by_hand(tang, image)
    converge(tang, replace(spec, key_version=2), KEY1 + "\n")
    assert own in clevis_slots(image) and len(clevis_slots(image)) == 2
    run(tang, steps(spec, REMOVE))
    assert clevis_slots(image) == [own], "switching mode removes our binding only"
    assert record(tang, spec) == []
    assert "encrypted-platform-binding" not in luks_dump(image)


def test_a_wrong_thumbprint_fails_naming_the_setting_and_keeps_the_working_binding(
    tang: TangServer, image: Path
) -> None:
    spec = volume_spec(tang, image)
    converge(tang, spec, KEY1 + "\n")
    [slot] = clevis_slots(image)
    wrong = volume_spec(tang, image, thumbprint="A" * 43)
    result = converge(tang, wrong, KEY1 + "\n", check=False)
    assert result.returncode != 0 and "thumbprint in encryption.tang.servers" in result.stderr
    assert clevis_slots(image) == [slot]
    assert actions(converge(tang, spec, KEY1 + "\n")) == {"none"}, "the good binding is still on record"


def test_an_unreachable_server_keeps_a_good_binding_and_the_run_succeeds(
    tang: TangServer, image: Path
) -> None:
    spec = volume_spec(tang, image)
    converge(tang, spec, KEY1 + "\n")
    tang.stop()
    try:
        result = converge(tang, spec, KEY1 + "\n")
    finally:
        tang.start()
    assert actions(result) == {"none"} and "did not answer" in result.stderr
    assert len(clevis_slots(image)) == 1


def test_a_run_cut_off_after_the_record_and_before_the_bind_completes_next_time(
    tang: TangServer, image: Path
) -> None:
    spec = volume_spec(tang, image)
    converge(tang, spec, KEY1 + "\n")
    [slot] = clevis_slots(image)
    # What the program writes just before `clevis luks bind`, for a new key version.
    cut = replace(spec, key_version=2)
    body = (
        "ep_main() { local free; free=$(ep_free_keyslot); "
        f'ep_binding_write 99 "$(ep_binding_want)" "$free" "{slot} $free"; }}\nep_main\n'
    )
    run(tang, steps(cut, body))
    assert "clevis-bound" in actions(converge(tang, cut, KEY1 + "\n"))
    [new] = clevis_slots(image)
    assert new != slot and record(tang, cut)[2:] == [new, new]


def test_a_clevis_token_left_without_its_slot_is_removed_and_the_binding_made_again(
    tang: TangServer, image: Path
) -> None:
    spec = volume_spec(tang, image)
    converge(tang, spec, KEY1 + "\n")
    [slot] = clevis_slots(image)
    # What a re-encryption does: every key slot but the passphrase's goes, the token stays.
    subprocess.run(["cryptsetup", "luksKillSlot", "-q", str(image), slot], check=True)
    assert "clevis" in luks_dump(image) and clevis_slots(image) == []
    assert "clevis-bound" in actions(converge(tang, spec, KEY1 + "\n"))
    assert len(clevis_slots(image)) == 1
    assert luks_dump(image).count(": clevis") == 1
    assert sorted(keyslots(image)) == sorted(["0", clevis_slots(image)[0]])


# ---- the same binding sealed to a TPM 2.0 (swtpm over its TCP interface) ----------------------


@pytest.fixture
def software_tpm(tmp_path: Path) -> Iterator[tuple[SoftwareTPM, str]]:
    device = SoftwareTPM(tmp_path / "tpm")
    try:
        yield device, device.start_for_programs()
    finally:
        device.close()


def tpm_spec(image: Path) -> LuksVolumeSpec:
    spec = make_spec(
        "app-db", root=image.parent, encryption={"unlockAtBoot": "tpm2", "tpm2": {"pcrIds": [7]}}
    )
    return with_source(spec, image)


def run_with_tpm(tcti: str, program: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["/bin/sh", "-c", command_line(program)],
        input=stdin, capture_output=True, text=True, timeout=120, env={**os.environ, "TPM2TOOLS_TCTI": tcti},
    )  # fmt: skip
    assert KEY1 not in result.stdout and KEY1 not in result.stderr, "a key leaked into the output"
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_tpm2_mode_seals_a_slot_that_opens_only_with_that_tpm(
    image: Path, software_tpm: tuple[SoftwareTPM, str], tmp_path: Path
) -> None:
    _, tcti = software_tpm
    spec = tpm_spec(image)
    assert "clevis-bound" in actions(run_with_tpm(tcti, steps(spec, CONVERGE), KEY1 + "\n"))
    [slot] = clevis_slots(image)
    assert (
        "tpm2"
        in subprocess.run(
            ["clevis", "luks", "list", "-d", str(image), "-s", slot], capture_output=True, text=True
        ).stdout
    )
    assert actions(run_with_tpm(tcti, steps(spec, CONVERGE), KEY1 + "\n")) == {"none"}
    # Another machine's TPM cannot unseal it; the operator's run (with the passphrase) seals a new
    # slot to that TPM and unbinds the old one.
    other = SoftwareTPM(tmp_path / "other-tpm")
    try:
        other_tcti = other.start_for_programs()
        unseal = subprocess.run(
            ["clevis", "luks", "pass", "-d", str(image), "-s", slot],
            capture_output=True, env={**os.environ, "TPM2TOOLS_TCTI": other_tcti},
        )  # fmt: skip
        assert unseal.returncode != 0
        result = run_with_tpm(other_tcti, steps(spec, CONVERGE), KEY1 + "\n")
        assert {"clevis-bound", "clevis-unbound"} <= actions(result)
        assert "does not open with this host's TPM" in result.stderr
        [new] = clevis_slots(image)
        assert new != slot
    finally:
        other.close()
