"""The acting mocks refuse what they cannot perform faithfully (the docker tier relies on it)."""

from __future__ import annotations

import pytest

from tests.support.acting_mocks.commands import luks_program
from tests.support.acting_mocks.docker_resources import ContainerExecutor, RemoteImageExecutor
from tests.support.acting_mocks.executor import Context, Request
from tests.support.acting_mocks.inputs import UnhonouredInput, check_fields

pytestmark = pytest.mark.unit


def request(type_: str, inputs: dict) -> Request:
    return Request(
        urn=f"urn:pulumi:dev::p::{type_}::x",
        type=type_,
        name="x",
        inputs=inputs,
        provider="",
        parent="",
        dependencies=[],
        delete_before_replace=False,
    )


def test_an_input_field_nobody_honours_fails_loudly_even_when_nested() -> None:
    fields = ContainerExecutor.fields
    check_fields("container", "x", {"name": "a", "mounts": [{"type": "tmpfs", "target": "/tmp"}]}, fields)
    with pytest.raises(UnhonouredInput, match="'pidsLimit' is not honoured"):
        check_fields("container", "x", {"pidsLimit": 10}, fields)
    with pytest.raises(UnhonouredInput, match=r"'mounts\[0\].bindOptions' is not honoured"):
        check_fields("container", "x", {"mounts": [{"bindOptions": {}}]}, fields)


def test_an_image_without_a_declared_stand_in_fails() -> None:
    context = Context(image_map={}, command_prefix=[])
    with pytest.raises(UnhonouredInput, match="no stand-in declared"):
        RemoteImageExecutor().create(
            context, request(RemoteImageExecutor.type, {"name": "x:1", "keepLocally": True})
        )


def test_only_encrypted_volume_luks_invocations_go_to_the_stand_in() -> None:
    assert luks_program("bash -c 'EP_DATA_DIR=x' ep-luks-ensure-app-db") == ("ensure", "EP_DATA_DIR=x")
    assert luks_program("sudo -n bash -c 'true' ep-luks-delete-logs") == ("delete", "true")
    assert luks_program("bash -c 'ep-luks-ensure-x' something-else") is None
    assert luks_program("docker update --pids-limit 1 c") is None
