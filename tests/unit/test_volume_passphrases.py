"""The escrow of the volume passphrases, `volumePassphrases`, in the whole program (__main__.py)
under the SDK mock runtime: a secret output that holds, per volume, the current key version and
exactly that version's passphrase (the RandomPassword the LUKS command enrols), in single-host and
Swarm mode, and after a key version bump the new version's passphrase, not the old one."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.sync_await import _sync_await

from components.settings import parse_settings
from tests.support.program_runner import ProgramRun, load_stack_config, reveal, run_main, run_program
from tests.unit.test_swarm_program import SSH_KEY, swarm_config

pytestmark = pytest.mark.unit

PASSWORD = "random:index/randomPassword:RandomPassword"
OUTPUT = "volumePassphrases"


def run_with_escrow(
    config: dict[str, Any], secret_config: dict[str, str] | None = None
) -> tuple[ProgramRun, Any, bool]:
    """The program's registrations, the escrow's value and whether it is a secret."""
    exported: dict[str, Any] = {}

    def program() -> None:
        run_main()
        root = get_root_resource()
        assert root is not None
        exported.update(root.outputs)  # type: ignore[attr-defined]

    run = run_program(program, config=config, secret_config=secret_config)
    escrow = pulumi.Output.from_input(exported[OUTPUT])
    return run, _sync_await(escrow.future()), _sync_await(escrow.is_secret())


def passwords(run: ProgramRun) -> dict[str, str]:
    return {r.name: r.outputs["result"] for r in run.of_type(PASSWORD)}


def luks_keys(run: ProgramRun, volume: str) -> list[str]:
    """The passphrases the volume's LUKS command receives on stdin, current first."""
    return str(reveal(run.by_name(f"{volume}-luks").inputs["stdin"])).splitlines()


def dev_config(**overrides: Any) -> dict[str, Any]:
    config = load_stack_config("dev")
    config.update(overrides)
    return config


def test_a_secret_output_with_each_volumes_current_passphrase() -> None:
    config = dev_config()
    run, escrow, secret = run_with_escrow(config)
    assert secret is True
    values = passwords(run)
    assert set(escrow) == set(parse_settings(config).volumes)
    for volume, entry in escrow.items():
        assert entry == {"keyVersion": 1, "passphrase": values[f"{volume}-passphrase-v1"]}, volume
        assert luks_keys(run, volume) == [entry["passphrase"]]


def test_after_a_key_version_bump_it_holds_the_new_versions_passphrase_only() -> None:
    run, escrow, secret = run_with_escrow(dev_config(encryption={"keyVersion": 2}))
    assert secret is True
    values = passwords(run)
    for volume, entry in escrow.items():
        new, old = values[f"{volume}-passphrase-v2"], values[f"{volume}-passphrase-v1"]
        assert new != old
        assert entry == {"keyVersion": 2, "passphrase": new}, volume
        # The LUKS command gets both for the rotation; the escrow the one it leaves enrolled.
        assert luks_keys(run, volume) == [new, old]


def test_a_volumes_own_key_version_is_its_current_one() -> None:
    config = dev_config()
    config["volumes"] = {**config["volumes"], "app-db": {**config["volumes"]["app-db"], "keyVersion": 3}}
    run, escrow, _ = run_with_escrow(config)
    values = passwords(run)
    assert escrow["app-db"] == {"keyVersion": 3, "passphrase": values["app-db-passphrase-v3"]}
    assert escrow["documents"] == {"keyVersion": 1, "passphrase": values["documents-passphrase-v1"]}


def test_swarm_mode_escrows_the_volumes_of_every_node() -> None:
    config = swarm_config()
    run, escrow, secret = run_with_escrow(config, {"sshPrivateKey": SSH_KEY})
    assert secret is True
    values = passwords(run)
    assert set(escrow) == set(parse_settings(config).volumes)
    for volume, entry in escrow.items():
        assert entry == {"keyVersion": 1, "passphrase": values[f"{volume}-passphrase-v1"]}, volume
