"""The acting mocks apply a program the way the engine and pulumi-command do: a changed `triggers`
replaces a Command (the new one's create, the old one's delete at the end of the run), any other
change runs `update`, and a protected resource is never deleted. Local Commands really run here,
writing to a log file, so the order of what ran is observed, not assumed."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_command as command
import pulumi_random as random
import pytest

from tests.support.acting_mocks.engine import ActingMocks, ProtectedResource
from tests.support.acting_mocks.executor import Context
from tests.support.acting_mocks.monitor import deploy

pytestmark = pytest.mark.unit


def _logging_command(log: Path, label: str, **inputs: object) -> command.local.Command:
    return command.local.Command(
        "cmd",
        create=f"echo create {label} >> {log}",
        update=f"echo update {label} >> {log}",
        delete=f"echo delete {label} >> {log}",
        add_previous_output_in_env=False,
        **inputs,  # type: ignore[arg-type]
    )


def _mocks() -> ActingMocks:
    return ActingMocks(Context(image_map={}, command_prefix=[]))


def test_a_changed_trigger_replaces_the_command_and_the_old_delete_runs_last(tmp_path: Path) -> None:
    log = tmp_path / "log"
    mocks = _mocks()
    deploy(mocks, program=lambda: _logging_command(log, "a", triggers=["1"]))

    def replaced_with_a_dependent() -> None:
        first = _logging_command(log, "b", triggers=["2"])
        command.local.Command(
            "dependent",
            create=f"echo create dependent >> {log}",
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(depends_on=[first]),
        )

    _, report = deploy(mocks, program=replaced_with_a_dependent)
    assert log.read_text().split("\n")[:-1] == ["create a", "create b", "create dependent", "delete a"]
    assert [urn.rsplit("::", 1)[1] for urn in report.replaced] == ["cmd"]


def test_any_other_change_runs_update_even_with_triggers_set(tmp_path: Path) -> None:
    log = tmp_path / "log"
    mocks = _mocks()
    deploy(mocks, program=lambda: _logging_command(log, "a", triggers=["1"]))
    _, report = deploy(mocks, program=lambda: _logging_command(log, "b", triggers=["1"]))
    assert log.read_text().split("\n")[:-1] == ["create a", "update b"]
    assert [urn.rsplit("::", 1)[1] for urn in report.updated] == ["cmd"]


def test_a_protected_resource_is_not_deleted_until_unprotected() -> None:
    mocks = _mocks()

    def with_key() -> None:
        random.RandomPassword("key", length=16, opts=pulumi.ResourceOptions(protect=True))

    deploy(mocks, program=with_key)
    with pytest.raises(ProtectedResource, match="key"):
        deploy(mocks, program=lambda: None)
    assert mocks.unprotect("key")
    _, report = deploy(mocks, program=lambda: None)
    assert [urn.rsplit("::", 1)[1] for urn in report.deleted] == ["key"]


def test_a_program_runs_after_asyncio_run_left_the_thread_without_a_loop(tmp_path: Path) -> None:
    """asyncio.run (a WebSocket probe in an earlier test) ends with no current loop in the thread;
    the next program run must not depend on that."""
    import asyncio

    async def nothing() -> None:
        return None

    asyncio.run(nothing())
    with pytest.raises(RuntimeError):
        asyncio.get_event_loop_policy().get_event_loop()
    log = tmp_path / "log"
    deploy(_mocks(), program=lambda: _logging_command(log, "a"))
    assert log.read_text().split("\n")[0] == "create a"
