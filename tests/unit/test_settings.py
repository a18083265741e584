"""Stack settings: defaults, and bad values rejected before anything is created, with the config
key named as `pulumi config set --path` spells it."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings import SettingsError, StackSettings, load_settings, parse_settings
from components.settings.storage import DEFAULT_VOLUMES

GOOD_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6b0ETJTxVgcNvE2Sw4V1bXbvo8VkD2q0m9bVvT0m3a"


def test_defaults_cover_every_data_class_of_the_concept() -> None:
    settings = parse_settings({})
    assert tuple(settings.volumes) == DEFAULT_VOLUMES
    assert set(DEFAULT_VOLUMES) == {"app-db", "vector-store", "documents", "config-secrets", "logs"}
    assert settings.encryption.kdf.pbkdf == "argon2id"
    assert settings.encryption.unlock_at_boot == "crypttab"
    assert settings.host.mode == "local"


def test_sizes_accept_binary_units() -> None:
    settings = parse_settings({"volumes": {"app-db": {"size": "2GiB"}, "logs": {"size": 134217728}}})
    assert settings.volumes["app-db"].size == 2 * 1024**3
    assert settings.volumes["logs"].size == 128 * 1024**2


def test_ssh_host_is_complete() -> None:
    settings = parse_settings(
        {
            "host": {
                "mode": "ssh",
                "address": "192.0.2.7",
                "port": 2222,
                "user": "deploy",
                "hostKey": GOOD_HOST_KEY,
                "become": True,
            }
        }
    )
    assert settings.host.port == 2222 and settings.host.become


BAD_CONFIGS: list[tuple[dict[str, Any], str, str]] = [
    ({"volumes": {"App_DB": {}}}, "encrypted-platform:volumes.App_DB", "lowercase"),
    ({"volumes": {"app-db": {"size": "big"}}}, "encrypted-platform:volumes.app-db.size", "2GiB"),
    ({"volumes": {"app-db": {"size": "10MiB"}}}, "encrypted-platform:volumes.app-db.size", "at least 64MiB"),
    ({"volumes": {"app-db": {"backing": "device"}}}, "encrypted-platform:volumes.app-db.device", "required"),
    (
        {"volumes": {"app-db": {"backing": "device", "device": "/tmp/disk"}}},
        "encrypted-platform:volumes.app-db.device",
        "/dev/",
    ),
    (
        {"volumes": {"app-db": {"backing": "tape"}}},
        "encrypted-platform:volumes.app-db.backing",
        "'file' or 'device'",
    ),
    ({"volumes": {"app-db": {"sise": "1GiB"}}}, "encrypted-platform:volumes.app-db.sise", "not permitted"),
    (
        {"volumes": {"app-db": {"dataOwner": "postgres"}}},
        "encrypted-platform:volumes.app-db.dataOwner",
        "uid:gid",
    ),
    ({"volumes": {"app-db": {"dataMode": "rwx"}}}, "encrypted-platform:volumes.app-db.dataMode", "octal"),
    (
        {"volumes": {"app-db": {"keyVersion": 0}}},
        "encrypted-platform:volumes.app-db.keyVersion",
        "greater than or equal to 1",
    ),
    (
        {
            "volumes": {
                "one": {"backing": "device", "device": "/dev/vdb"},
                "two": {"backing": "device", "device": "/dev/vdb"},
            }
        },
        "encrypted-platform:volumes.two.device",
        "already used",
    ),
    ({"host": {"mode": "ssh", "hostKey": GOOD_HOST_KEY}}, "encrypted-platform:host.address", "required"),
    ({"host": {"mode": "ssh", "address": "192.0.2.7"}}, "encrypted-platform:host.hostKey", "required"),
    (
        {"host": {"mode": "ssh", "address": "not a host!", "hostKey": GOOD_HOST_KEY}},
        "encrypted-platform:host.address",
        "IP address or a DNS name",
    ),
    ({"host": {"port": 0}}, "encrypted-platform:host.port", "greater than or equal to 1"),
    ({"host": {"mode": "telnet"}}, "encrypted-platform:host.mode", "'local' or 'ssh'"),
    ({"host": {"hostKey": "AAAA"}}, "encrypted-platform:host.hostKey", "public key"),
    (
        {"encryption": {"unlockAtBoot": "tpm"}},
        "encrypted-platform:encryption.unlockAtBoot",
        "'crypttab' or 'manual'",
    ),
    ({"encryption": {"kdf": {"pbkdf": "scrypt"}}}, "encrypted-platform:encryption.kdf.pbkdf", "argon2id"),
    ({"encryption": {"kdf": {"iterations": 4}}}, "encrypted-platform:encryption.kdf.memoryKib", "required"),
    (
        {"encryption": {"kdf": {"pbkdf": "pbkdf2", "memoryKib": 65536}}},
        "encrypted-platform:encryption.kdf.memoryKib",
        "pbkdf2",
    ),
    (
        {"encryption": {"kdf": {"memoryKib": 1}}},
        "encrypted-platform:encryption.kdf.memoryKib",
        "greater than or equal to 32",
    ),
    ({"encryption": {"root": "srv/encrypted"}}, "encrypted-platform:encryption.root", "absolute path"),
    ({"encryption": {"root": "/srv/../etc"}}, "encrypted-platform:encryption.root", "'..'"),
    ({"encryption": {"root": "/"}}, "encrypted-platform:encryption.root", "must not be '/'"),
    ({"encryption": {"keysDir": "/srv/encrypted/keys"}}, "encrypted-platform:encryption.root", "keysDir"),
    (
        {"encryption": {"keyVersion": -1}},
        "encrypted-platform:encryption.keyVersion",
        "greater than or equal to 1",
    ),
    ({"encryption": {"filesystem": "btrfs"}}, "encrypted-platform:encryption.filesystem", "ext4"),
    ({"environment": "qa"}, "encrypted-platform:environment", "'dev', 'staging' or 'prod'"),
    ({"volumez": {}}, "encrypted-platform:volumez", "not permitted"),
]


@pytest.mark.parametrize(
    ("raw", "key", "hint"),
    BAD_CONFIGS,
    ids=[c[1].split(":", 1)[1] + f"#{i}" for i, c in enumerate(BAD_CONFIGS)],
)
def test_bad_config_names_the_key(raw: dict[str, Any], key: str, hint: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw)
    problems = caught.value.problems
    matching = [p for p in problems if p.startswith(key + ":")]
    assert matching, f"no problem names {key}: {problems}"
    assert any(hint in p for p in matching), f"{hint!r} not explained in {matching}"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({"host": {"port": 0}, "encryption": {"keyVersion": 0}, "environment": "qa"})
    keys = {p.split(":")[1].split(":")[0] for p in caught.value.problems}
    assert len(caught.value.problems) == 3, caught.value.problems
    assert keys == {"host.port", "encryption.keyVersion", "environment"}


def test_load_settings_reads_structured_config_as_json() -> None:
    values = {"environment": "prod", "volumes": '{"logs": {"size": "128MiB"}}'}
    settings = load_settings(values.get)
    assert settings.environment == "prod"
    assert list(settings.volumes) == ["logs"]


def test_error_is_a_clean_pulumi_run_error() -> None:
    import pulumi

    with pytest.raises(pulumi.RunError, match="invalid stack configuration"):
        parse_settings({"environment": "qa"})


def test_settings_are_immutable() -> None:
    settings = parse_settings({})
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError for frozen models
        settings.environment = "prod"  # type: ignore[misc]
    assert isinstance(settings, StackSettings)
