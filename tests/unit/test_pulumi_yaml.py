"""Pulumi.yaml and the stack files agree with the settings models (the one source of truth)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.settings import PROJECT, SECRET_KEYS, SettingsError, StackSettings, parse_settings
from components.settings.schema import PULUMI_YAML, config_declarations, render_pulumi_yaml
from components.settings.services import BUILTIN_SERVICES
from tests.support.pinned_stack import pinned_stack_config
from tests.support.program_runner import load_stack_config

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILE = yaml.safe_load(PULUMI_YAML.read_text())


def test_pulumi_yaml_is_generated_from_the_models() -> None:
    current = PULUMI_YAML.read_text()
    assert render_pulumi_yaml(current) == current, "run: python -m components.settings.schema --write"


def test_project_runs_python_in_a_virtualenv() -> None:
    assert PROJECT_FILE["name"] == PROJECT
    assert PROJECT_FILE["runtime"]["name"] == "python"
    assert PROJECT_FILE["runtime"]["options"]["virtualenv"] == ".venv"


def test_every_key_is_declared_with_type_default_and_description() -> None:
    declared = PROJECT_FILE["config"]
    assert set(declared) == {f.alias for f in StackSettings.model_fields.values()} | set(SECRET_KEYS)
    for key, declaration in declared.items():
        assert declaration["type"] in {"string", "integer", "boolean", "array", "object"}, key
        assert declaration["description"], key
        if key not in SECRET_KEYS:
            assert "default" in declaration and "secret" not in declaration, key
    assert declared == config_declarations()


@pytest.mark.parametrize("key", sorted(SECRET_KEYS))
def test_secret_keys_are_declared_secret_without_a_plain_default(key: str) -> None:
    declaration = PROJECT_FILE["config"][key]
    assert declaration["secret"] is True
    assert "default" not in declaration, "Pulumi applies a default as a plain value"
    assert f"pulumi config set --secret {key}" in declaration["description"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_never_hold_a_secret_key_in_plain(stack: str) -> None:
    raw = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    for key in SECRET_KEYS:
        value = raw.get(f"{PROJECT}:{key}")
        assert value is None or (isinstance(value, dict) and set(value) == {"secure"}), key


def test_declared_defaults_are_valid_settings() -> None:
    defaults = {k: v["default"] for k, v in PROJECT_FILE["config"].items() if k not in SECRET_KEYS}
    assert parse_settings(defaults) == parse_settings({})


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_use_only_declared_keys_and_validate(stack: str) -> None:
    raw = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    for key in raw:
        namespace, _, name = key.partition(":")
        assert namespace == PROJECT, f"{key}: only project keys belong in Pulumi.{stack}.yaml"
        assert name in PROJECT_FILE["config"], f"{key} is not declared in Pulumi.yaml"
    # As `make pin-images` leaves it (prod ships "repository:tag" images; see the test below).
    config = pinned_stack_config(stack)
    settings = parse_settings({k: v for k, v in config.items() if k not in SECRET_KEYS})
    assert settings.environment == stack


def test_prod_uses_a_remote_host_and_whole_devices() -> None:
    settings = parse_settings(pinned_stack_config("prod"))
    assert settings.host.mode == "ssh" and settings.host.host_key
    assert all(v.backing == "device" for v in settings.volumes.values())
    assert settings.encryption.kdf.iterations is None, "production keeps cryptsetup's benchmarked KDF cost"


def test_prod_is_the_whole_platform_behind_a_publicly_trusted_edge() -> None:
    settings = parse_settings(pinned_stack_config("prod"))
    assert {n for n, s in settings.services.items() if s.enabled} == set(BUILTIN_SERVICES)
    assert all("@sha256:" in s.image for s in settings.services.values())
    assert settings.edge.image.digest
    certificates = settings.edge.certificates
    assert certificates.mode == "acme" and not certificates.acme.staging and not certificates.acme.ca_server
    routes = settings.edge.routes
    assert {(r.host, r.path, r.service, r.websocket) for r in routes.values()} == {
        ("app.example.com", "/", "webapp", False),
        ("app.example.com", "/ws", "webapp", True),
    }
    assert settings.edge.websocket.allowed_origins == ["https://app.example.com"]
    assert settings.edge.websocket.auth is not None and settings.edge.websocket.auth.service == "webapp"


def test_prod_as_shipped_names_each_image_to_pin_and_the_command() -> None:
    """Pulumi.prod.yaml ships tags: parsing it stops (before the program registers anything) with
    one problem per image key, spelled as `pulumi config set --path` takes it, each saying how to
    pin it. Pinning is what the test above undoes."""
    shipped = load_stack_config("prod")
    with pytest.raises(SettingsError) as caught:
        parse_settings(shipped, stack="prod")
    keys = [f"encrypted-platform:services.{name}.image" for name in shipped["services"]]
    keys.append("encrypted-platform:edge.image.digest")
    assert "encrypted-platform:services.app-db.image" in keys
    problems = caught.value.problems
    assert [p.split(": ", 1)[0] for p in problems] == keys
    for problem in problems:
        assert problem.endswith(
            "pin it with: make pin-images STACK=prod (pins every image written in Pulumi.prod.yaml)"
        ), problem
