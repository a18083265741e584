"""Run a Pulumi program (or a function that declares resources) under the SDK's mock runtime and
record every registration as the engine would receive it: type, name, parent, custom-ness,
provider, dependencies, property dependencies, and inputs with secret markers kept.

This checks wiring; it never stands in for what a resource does on a real host (the host, vm,
docker and e2e tiers do that).
"""

from __future__ import annotations

import asyncio
import json
import runpy
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

REPO = Path(__file__).resolve().parents[2]
PROJECT = "encrypted-platform"
SECRET_SIG = rpc._special_sig_key  # noqa: SLF001 - the wire format's own constant
SECRET_VALUE = rpc._special_secret_sig  # noqa: SLF001


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def reveal(value: Any) -> Any:
    """The value with every secret marker removed (recursively)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    inputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    outputs: dict[str, Any] = field(default_factory=dict)
    protect: bool = False

    def plain(self, key: str, default: Any = None) -> Any:
        return reveal(self.inputs.get(key, default))


class RealisticMocks(pulumi.runtime.Mocks):
    """Outputs = inputs, plus the computed values a real provider would return: random passwords
    and uuids, resource ids. Nothing here acts on a host."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
            outputs["result"] = "".join(
                secrets.choice(alphabet) for _ in range(int(args.inputs.get("length", 32)))
            )
        if args.typ == "random:index/randomUuid:RandomUuid":
            import uuid

            outputs["result"] = str(uuid.uuid4())
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            pulumi_mocks._ensure_event_loop()  # noqa: SLF001
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=bool(request.custom),
                    parent=request.parent,
                    provider=request.provider,
                    inputs=inputs,
                    dependencies=list(request.dependencies),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                    outputs=self.resources[response.urn].state if response.urn in self.resources else {},
                    protect=bool(request.protect),
                )
            )
        return response


@dataclass
class ProgramRun:
    registrations: list[Registration]

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def by_name(self, name: str) -> Registration:
        found = [r for r in self.registrations if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}")
        return found[0]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}


def _config_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def engine_config(
    config: Mapping[str, Any] | None, secret_config: Mapping[str, str] | None, project: str = PROJECT
) -> dict[str, str]:
    """Config as the engine passes it to a program: "<project>:<key>" -> text."""
    all_config = {f"{project}:{k}": _config_value(v) for k, v in (config or {}).items()}
    all_config.update({f"{project}:{k}": v for k, v in (secret_config or {}).items()})
    return all_config


def set_engine_config(
    config: Mapping[str, Any] | None, secret_config: Mapping[str, str] | None, project: str = PROJECT
) -> dict[str, str]:
    """Hands the program its config as the engine does (secret keys flagged). Returns it."""
    all_config = engine_config(config, secret_config, project)
    pulumi.runtime.set_all_config(all_config, [f"{project}:{k}" for k in (secret_config or {})])
    return all_config


def run_main(program: Callable[[], Any] | None = None) -> None:
    """Runs `program`, or the project's __main__.py as the Pulumi Python host runs it."""
    if program is not None:
        program()
        return
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    runpy.run_path(str(REPO / "__main__.py"), run_name="__pulumi_main__")


def ensure_current_event_loop() -> None:
    """The SDK registers on the thread's current loop; code that ran `asyncio.run` earlier in the
    same thread left none (asyncio.run ends with set_event_loop(None)), as the language host never
    does. A fresh loop then, so a program run does not depend on what ran before it."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def start_mock_runtime(
    mocks: pulumi.runtime.Mocks, monitor: Any, *, project: str, stack: str, preview: bool
) -> None:
    """A fresh mock runtime for one program run, as the language host starts a fresh program:
    without the reset, set_mocks keeps the previous run's root Stack and registers none, so no RPC
    is in flight when the program body returns, the SDK's drain skips its RPC loop and waits on
    every pending Output in FIRST_COMPLETED rounds, re-adding callbacks to all of them each round
    (rounds x Outputs)."""
    ensure_current_event_loop()
    pulumi.runtime.reset_options(project=project, stack=stack, preview=preview)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, monitor=monitor)


def run_program(
    program: Callable[[], Any] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    secret_config: Mapping[str, str] | None = None,
    project: str = PROJECT,
    stack: str = "dev",
    preview: bool = False,
    mocks: pulumi.runtime.Mocks | None = None,
    monitor: RecordingMonitor | None = None,
) -> ProgramRun:
    """Runs `program` (default: the project's __main__.py) with the given config (keys without
    namespace) and returns every registration. Exceptions from the program propagate; pass a
    `monitor` to see what was registered before one."""
    set_engine_config(config, secret_config, project)
    mocks = mocks or RealisticMocks()
    monitor = monitor or RecordingMonitor(mocks)
    start_mock_runtime(mocks, monitor, project=project, stack=stack, preview=preview)
    _sync_await(run_pulumi_func(lambda: run_main(program)))
    return ProgramRun(monitor.registrations)


def load_stack_config(stack: str) -> dict[str, Any]:
    """The project-namespace keys of Pulumi.<stack>.yaml, without the namespace."""
    import yaml

    data = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text()) or {}
    prefix = f"{PROJECT}:"
    return {k[len(prefix) :]: v for k, v in (data.get("config") or {}).items() if k.startswith(prefix)}
