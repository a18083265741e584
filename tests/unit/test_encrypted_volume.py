"""EncryptedVolume and DockerHost wiring under the SDK mock runtime (no host is touched)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from components.settings import SettingsError
from tests.support.program_runner import ProgramRun, is_secret, load_stack_config, reveal, run_program

COMMAND_TYPES = {"command:local:Command", "command:remote:Command"}
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6b0ETJTxVgcNvE2Sw4V1bXbvo8VkD2q0m9bVvT0m3a"
SSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key-only-a-marker\n-----END OPENSSH PRIVATE KEY-----"
)


def dev_run(**overrides: Any) -> ProgramRun:
    config = load_stack_config("dev")
    # Volumes only: the services' own volumes and secrets are tested in tests/unit/test_platform*.
    config["services"] = {}
    config.pop("edge", None)
    config.update(overrides)
    return run_program(config=config)


def commands(run: ProgramRun) -> list:
    return [r for r in run.registrations if r.type in COMMAND_TYPES]


def luks_commands(run: ProgramRun) -> list:
    return [r for r in commands(run) if r.name.endswith("-luks")]


def program_of(command_line: str) -> str:
    argv = shlex.split(command_line)
    if argv[:2] == ["sudo", "-n"]:
        argv = argv[2:]
    assert argv[:2] == ["bash", "-c"], argv[:3]
    return argv[2]


def test_every_child_has_a_parent_inside_the_platform() -> None:
    run = dev_run()
    urns = run.by_urn()
    platform = run.by_name("platform")
    for registration in run.registrations:
        if registration is platform:
            continue
        assert registration.parent in urns, f"{registration.type} {registration.name} has no component parent"
        # Walk up: every resource hangs under the Platform component.
        node = registration
        while node.parent in urns:
            node = urns[node.parent]
        assert node is platform


def test_one_encrypted_volume_per_data_class() -> None:
    run = dev_run()
    components = {r.name for r in run.of_type("encrypted-platform:storage:EncryptedVolume")}
    assert components == {"app-db", "vector-store", "documents", "config-secrets", "logs"}
    volumes = run.of_type("docker:index/volume:Volume")
    assert len(volumes) == 5


def test_docker_volume_binds_the_data_dir_of_its_luks_mount() -> None:
    run = dev_run()
    for volume in run.of_type("docker:index/volume:Volume"):
        name = volume.name
        assert volume.plain("driver") == "local"
        assert volume.plain("driverOpts") == {
            "type": "none",
            "o": "bind",
            "device": f"/srv/encrypted/{name}/data",
        }
        labels = {item["label"]: item["value"] for item in volume.plain("labels")}
        assert labels["encrypted-platform.luks.mapping"] == f"ep-{name}"
        assert labels["encrypted-platform.luks.mount-point"] == f"/srv/encrypted/{name}"
        assert labels["encrypted-platform.luks.cipher"] == "aes-xts-plain64"
        assert labels["encrypted-platform.luks.key-size"] == "512"
        # It waits for the LUKS command, and is created through the host's docker provider.
        luks = run.by_name(f"{name}-luks")
        assert luks.urn in volume.dependencies
        assert "host-docker" in volume.provider


def test_passphrases_are_secret_and_reach_the_host_only_on_stdin() -> None:
    run = dev_run()
    passwords = run.of_type("random:index/randomPassword:RandomPassword")
    assert len(passwords) == 5
    values = {p.name: p.outputs["result"] for p in passwords}
    for password in passwords:
        assert password.plain("length") == 64 and password.plain("special") is False
    for command in luks_commands(run):
        assert is_secret(command.inputs["stdin"]), f"{command.name}: stdin is not secret"
        volume = command.name.removesuffix("-luks")
        assert reveal(command.inputs["stdin"]) == values[f"{volume}-passphrase-v1"] + "\n"
        assert "environment" not in command.inputs
        for field in ("create", "update", "delete"):
            text = command.plain(field)
            assert not is_secret(command.inputs[field]), (
                f"{command.name}.{field} should be plain, reviewable text"
            )
            for value in values.values():
                assert value not in text


def test_luks_command_runs_the_rendered_programs() -> None:
    run = dev_run()
    command = run.by_name("app-db-luks")
    ensure = program_of(command.plain("create"))
    assert command.plain("update") == command.plain("create")
    assert "EP_MAPPER='ep-app-db'" in ensure and "ep_converge_keys" in ensure
    delete = program_of(command.plain("delete"))
    assert "ep_unmount" in delete and "EP_DESTROY_DATA='no'" in delete
    # dev sets become: the program runs through sudo; the local command uses /bin/sh -c.
    assert command.plain("create").startswith("sudo -n bash -c ")
    assert command.plain("interpreter") == ["/bin/sh", "-c"]
    assert "triggers" not in command.inputs  # crypttab mode: nothing re-runs an unchanged volume


def test_key_version_bump_keeps_the_previous_passphrase_for_rotation() -> None:
    run = dev_run(encryption={"keyVersion": 2})
    names = {p.name for p in run.of_type("random:index/randomPassword:RandomPassword")}
    assert {"app-db-passphrase-v2", "app-db-passphrase-v1"} <= names
    passwords = {
        p.name: p.outputs["result"] for p in run.of_type("random:index/randomPassword:RandomPassword")
    }
    stdin = reveal(run.by_name("app-db-luks").inputs["stdin"])
    assert stdin == passwords["app-db-passphrase-v2"] + "\n" + passwords["app-db-passphrase-v1"] + "\n"
    assert "EP_KEY_VERSION='2'" in program_of(run.by_name("app-db-luks").plain("create"))


def test_manual_unlock_reruns_the_converge_step_every_up_without_replacing_the_command() -> None:
    first = dev_run(encryption={"unlockAtBoot": "manual"})
    second = dev_run(encryption={"unlockAtBoot": "manual"})
    a, b = first.by_name("app-db-luks"), second.by_name("app-db-luks")
    # pulumi-command replaces a Command whose `triggers` change (and then runs the old one's
    # delete program: unmount and close); a changed `update` only runs `update`.
    assert "triggers" not in a.inputs and "triggers" not in b.inputs
    assert a.plain("create") == b.plain("create") and a.plain("delete") == b.plain("delete")
    assert a.plain("update") != b.plain("update")
    assert program_of(a.plain("update")) == program_of(a.plain("create"))
    assert "EP_UNLOCK_AT_BOOT='manual'" in program_of(a.plain("create"))
    # What differs is a comment of the outer shell: the program's argv is the converge step's.
    assert shlex.split(a.plain("update"), comments=True) == shlex.split(a.plain("create"))


def test_passphrases_that_may_open_a_header_are_protected() -> None:
    run = dev_run(encryption={"keyVersion": 3})
    passphrases = {p.name: p for p in run.of_type("random:index/randomPassword:RandomPassword")}
    assert passphrases["app-db-passphrase-v3"].protect and passphrases["app-db-passphrase-v2"].protect
    # Two versions back: already revoked by the last rotation, declared unprotected so that the
    # next bump may delete it.
    assert not passphrases["app-db-passphrase-v1"].protect
    assert "app-db-passphrase-v0" not in passphrases
    # A volume whose data is erased on removal has nothing a lost passphrase could lock away.
    erased = dev_run(volumes={"app-db": {"size": "1GiB", "destroyDataOnDelete": True}})
    assert not erased.by_name("app-db-passphrase-v1").protect


def test_reencryption_is_opt_in_and_runs_after_the_luks_command() -> None:
    assert not [c for c in commands(dev_run()) if c.name.endswith("-reencrypt")]
    run = dev_run(volumes={"app-db": {"size": "1GiB", "reencryptGeneration": 1}})
    reencrypt = run.by_name("app-db-reencrypt")
    assert reencrypt.plain("triggers") == [1]
    assert is_secret(reencrypt.inputs["stdin"])
    assert run.by_name("app-db-luks").urn in reencrypt.dependencies
    assert "ep_reencrypt" in program_of(reencrypt.plain("create"))
    volume = [v for v in run.of_type("docker:index/volume:Volume") if v.name == "app-db"][0]
    assert reencrypt.urn in volume.dependencies


def test_destroy_on_delete_is_rendered_only_when_asked() -> None:
    run = dev_run(volumes={"app-db": {"destroyDataOnDelete": True}, "logs": {}})
    assert "EP_DESTROY_DATA='yes'" in program_of(run.by_name("app-db-luks").plain("delete"))
    assert "EP_DESTROY_DATA='no'" in program_of(run.by_name("logs-luks").plain("delete"))


def test_ssh_host_uses_remote_commands_and_a_pinned_docker_provider(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = {
        "host": {
            "mode": "ssh",
            "address": "192.0.2.7",
            "port": 2222,
            "user": "deploy",
            "hostKey": HOST_KEY,
            "become": True,
        },
        "volumes": {"app-db": {"backing": "device", "device": "/dev/disk/by-id/virtio-app-db"}},
    }
    run = run_program(config=config, secret_config={"sshPrivateKey": SSH_KEY}, stack="prodlike")
    command = run.by_name("app-db-luks")
    assert command.type == "command:remote:Command"
    assert is_secret(command.inputs["connection"])
    connection = reveal(command.inputs["connection"])
    assert connection["host"] == "192.0.2.7" and connection["port"] == 2222 and connection["user"] == "deploy"
    assert connection["hostKey"] == HOST_KEY
    provider = run.by_name("host-docker")
    assert provider.plain("host") == "ssh://deploy@192.0.2.7:2222"
    opts = json.loads(provider.plain("sshOpts"))  # provider config travels as JSON text
    assert "StrictHostKeyChecking=yes" in opts
    # The key file for the Docker CLI is private to the operator; the key is not in the provider.
    identity = opts[opts.index("-i") + 1]
    assert Path(identity).is_relative_to(tmp_path)
    assert Path(identity).stat().st_mode & 0o777 == 0o600
    assert Path(identity).read_text().strip() == SSH_KEY
    assert SSH_KEY not in str(provider.inputs)
    known_hosts = opts[[i for i, o in enumerate(opts) if o.startswith("UserKnownHostsFile=")][0]].split(
        "=", 1
    )[1]
    assert Path(known_hosts).read_text() == "[192.0.2.7]:2222 " + HOST_KEY + "\n"


def test_ssh_mode_without_a_private_key_stops_before_any_resource() -> None:
    config = {"host": {"mode": "ssh", "address": "192.0.2.7", "hostKey": HOST_KEY}}
    with pytest.raises(SettingsError, match="encrypted-platform:sshPrivateKey"):
        run_program(config=config)


def test_bad_config_stops_the_program_before_any_resource() -> None:
    registered: list = []
    with pytest.raises(SettingsError, match=r"encrypted-platform:volumes\.app-db\.size"):
        run = run_program(config={"volumes": {"app-db": {"size": "huge"}}})
        registered = run.registrations
    assert registered == []
