"""The glue to the SDK's mock runtime: the monitor that hands each registration to the acting
mocks, and `deploy`, which runs a program through them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from ..program_runner import (
    PROJECT,
    ProgramRun,
    RecordingMonitor,
    reveal,
    run_main,
    set_engine_config,
    start_mock_runtime,
)
from .engine import ActingMocks, RunReport
from .executor import Request


class ActingMonitor(RecordingMonitor):
    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type != "pulumi:pulumi:Stack" and request.custom:
            pulumi_mocks._ensure_event_loop()  # noqa: SLF001
            from pulumi.runtime import rpc

            inputs = rpc.deserialize_properties(request.object)
            mocks = self.mocks
            assert isinstance(mocks, ActingMocks)
            mocks.set_request(
                Request(
                    urn=self.make_urn(request.parent, request.type, request.name),
                    type=request.type,
                    name=request.name,
                    inputs=_plain(inputs),
                    provider=request.provider,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    replace_on_changes=tuple(request.replaceOnChanges),
                    protect=bool(request.protect),
                )
            )
        return super().RegisterResource(request)


def _plain(value: Any) -> Any:
    """Inputs as the provider sees them: secret markers removed, nulls dropped."""
    value = reveal(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def deploy(
    mocks: ActingMocks,
    *,
    config: Mapping[str, Any] | None = None,
    secret_config: Mapping[str, str] | None = None,
    program: Callable[[], Any] | None = None,
    project: str = PROJECT,
    stack: str = "dev",
    monitor_class: type[ActingMonitor] | None = None,
) -> tuple[ProgramRun, RunReport]:
    """Runs the program (default __main__.py) with `config` (and `secret_config`, passed as the
    engine passes secret config) and performs it through `mocks`. Raises the first executor
    error; call again with the same mocks for a second run."""
    set_engine_config(config, secret_config, project)
    monitor = (monitor_class or ActingMonitor)(mocks)
    start_mock_runtime(mocks, monitor, project=project, stack=stack, preview=False)
    mocks.begin()

    try:
        _sync_await(run_pulumi_func(lambda: run_main(program)))
    except BaseException:
        if mocks.errors:
            raise mocks.errors[0] from None
        raise
    if mocks.errors:
        raise mocks.errors[0]
    return ProgramRun(monitor.registrations), mocks.finish()
