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


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({"host": {"port": 0}, "encryption": {"keyVersion": 0}, "environment": "qa"})
    keys = {p.split(":")[1].split(":")[0] for p in caught.value.problems}
    assert len(caught.value.problems) == 3, caught.value.problems
    assert keys == {"host.port", "encryption.keyVersion", "environment"}


def test_load_settings_reads_structured_config_as_json() -> None:
    values = {"environment": "prod", "volumes": '{"logs": {"size": "128MiB"}}'}
    settings = load_settings(values)
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


def test_every_grammar_matches_the_whole_value() -> None:
    # Importing the settings declares every grammar; each must refuse its own example with a
    # newline (what `re.match(...$)` let through), a space or a NUL appended.
    from components.settings.grammar import GRAMMARS

    assert len(GRAMMARS) >= 20, sorted(GRAMMARS)
    for name, grammar in GRAMMARS.items():
        assert grammar.matches(grammar.example), name
        for tail in ("\n", "\r\n", "\x00"):
            assert not grammar.matches(grammar.example + tail), f"{name} accepts {grammar.example + tail!r}"
        assert not grammar.matches("\n" + grammar.example), name


def test_no_number_or_switch_field_takes_what_pydantic_would_coerce() -> None:
    # Every int/float/bool field is an Integer/Number/Flag (or a size or a duration): walking
    # the models finds none left that would read `true` as 1 or "yes" as true.
    import typing

    from pydantic import BaseModel

    def loose(annotation: Any, metadata: list[Any]) -> list[str]:
        if typing.get_origin(annotation) is typing.Annotated:
            base, *extra = typing.get_args(annotation)
            return loose(base, list(extra))
        kinds = {type(m).__name__ for m in metadata}
        if annotation in (int, float):
            return [] if "BeforeValidator" in kinds else [annotation.__name__]
        if annotation is bool:
            return [] if "Strict" in kinds else ["bool"]
        return [kind for argument in typing.get_args(annotation) for kind in loose(argument, [])]

    seen: set[type] = set()
    problems: list[str] = []

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            for kind in loose(info.annotation, list(info.metadata)):
                problems.append(f"{model.__name__}.{name}: plain {kind}")
            for candidate in _models_in(info.annotation):
                walk(candidate)

    def _models_in(annotation: Any) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [m for a in typing.get_args(annotation) for m in _models_in(a)]

    walk(StackSettings)
    assert len(seen) > 15
    assert problems == []


def test_keys_are_spelled_as_pulumi_config_set_path_takes_them() -> None:
    from components.settings.keys import config_key, did_you_mean

    assert config_key(("volumes", "app-db", "size")) == "encrypted-platform:volumes.app-db.size"
    assert config_key(("firewall", "allowTcpPorts", 1)) == "encrypted-platform:firewall.allowTcpPorts[1]"
    assert config_key(("services", "x", "tmpfs", "/tmp")) == 'encrypted-platform:services.x.tmpfs["/tmp"]'
    assert config_key(("edge", "routes", "a.b")) == 'encrypted-platform:edge.routes["a.b"]'
    assert config_key(("a", 'say "hi"')) == 'encrypted-platform:a["say \\"hi\\""]'
    assert config_key(("a", "0day", "[x]", "")) == 'encrypted-platform:a["0day"]["[x]"][""]'
    assert did_you_mean("encrpytion", ["encryption", "edge"]) == " (did you mean 'encryption'?)"
    assert did_you_mean("keysdir", ["keysDir", "root"]) == " (did you mean 'keysDir'?)"
    assert did_you_mean("zzz", ["encryption"]) == ""


def test_unknown_top_level_keys_are_read_from_the_config_the_language_host_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Python language host hands the program its config as JSON in PULUMI_CONFIG (its entry
    # point also loads it with set_all_config, as the mock runtime does; both are read).
    import json

    import pulumi

    pulumi.runtime.set_all_config({}, [])
    monkeypatch.setenv(
        "PULUMI_CONFIG",
        json.dumps(
            {"encrypted-platform:environment": "dev", "encrypted-platform:volume": "{}", "docker:host": "x"}
        ),
    )
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.problems == ["encrypted-platform:volume: unknown key (did you mean 'volumes'?)"]
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"encrypted-platform:environment": "prod"}))
    assert load_settings().environment == "prod"


def test_a_misspelled_secret_key_is_named_without_its_value() -> None:
    import pulumi

    pulumi.runtime.set_all_config(
        {"encrypted-platform:sshPrivatKey": "-----BEGIN OPENSSH PRIVATE KEY-----"},
        ["encrypted-platform:sshPrivatKey"],
    )
    try:
        with pytest.raises(SettingsError) as caught:
            load_settings()
    finally:
        pulumi.runtime.set_all_config({}, [])
    assert caught.value.problems == [
        "encrypted-platform:sshPrivatKey: unknown key (did you mean 'sshPrivateKey'?)"
    ]
    assert "BEGIN" not in str(caught.value)
