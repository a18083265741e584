"""The stand-in engine state: per URN the previous run's inputs, id and outputs; each run creates,
keeps, updates or replaces as the real providers would, and `finish()` deletes what is gone."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from .commands import CommandExecutor
from .docker_resources import (
    ContainerExecutor,
    DockerProviderExecutor,
    NetworkExecutor,
    RemoteImageExecutor,
    SecretExecutor,
    ServiceExecutor,
    VolumeExecutor,
)
from .executor import Context, Executor, Recorded, Request
from .inputs import UnhonouredInput, check_fields
from .random_password import RandomPasswordExecutor
from .replacement import replaced_on_request
from .tls import CertRequestExecutor, LocallySignedCertExecutor, PrivateKeyExecutor, SelfSignedCertExecutor


class ProtectedResource(RuntimeError):
    """The engine refuses to delete a resource whose state says `protect` (until
    `pulumi state unprotect`), and the run fails."""


def default_executors() -> dict[str, Executor]:
    executors: list[Executor] = [
        DockerProviderExecutor(),
        NetworkExecutor(),
        VolumeExecutor(),
        RemoteImageExecutor(),
        ContainerExecutor(),
        CommandExecutor(),
        RandomPasswordExecutor(),
        PrivateKeyExecutor(),
        SelfSignedCertExecutor(),
        CertRequestExecutor(),
        LocallySignedCertExecutor(),
        SecretExecutor(),
        ServiceExecutor(),
    ]
    return {e.type: e for e in executors}


@dataclass
class RunReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


class ActingMocks(pulumi.runtime.Mocks):
    def __init__(self, context: Context, executors: Mapping[str, Executor] | None = None) -> None:
        self.context = context
        self.executors = dict(executors or default_executors())
        self.state: dict[str, Recorded] = {}  # the previous run's resources, by URN
        self.current: dict[str, Recorded] = {}
        self.replaced_pending_delete: list[Recorded] = []  # old halves of replacements, this run
        self.order: list[str] = []  # creation order of the current state (for deletes)
        self.report = RunReport()
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    # Called by ActingMonitor before the SDK's MockMonitor asks new_resource.
    def set_request(self, request: Request) -> None:
        self._local.request = request

    def begin(self) -> None:
        self.current = {}
        self.replaced_pending_delete = []
        self.report = RunReport()
        self.errors = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if not args.custom:
            return "", {}
        request: Request = self._local.request
        try:
            return self._apply(request)
        except BaseException as exc:
            with self._lock:
                self.errors.append(exc)
            raise

    def _apply(self, req: Request) -> tuple[str, dict[str, Any]]:
        # Like the engine, independent resources are performed concurrently: the SDK registers a
        # resource only once its dependencies have resolved, so whatever arrives here at the same
        # time does not depend on each other. The lock guards only this object's bookkeeping.
        executor = self.executors.get(req.type)
        if executor is None:
            raise UnhonouredInput(f"no acting executor for resource type {req.type} ({req.name!r})")
        check_fields(req.type, req.name, req.inputs, executor.fields)
        previous = self.state.get(req.urn)
        if previous is None:
            rid, outputs = executor.create(self.context, req)
            self.report.created.append(req.urn)
        elif previous.request.inputs == req.inputs and previous.request.provider == req.provider:
            rid, outputs = previous.id, previous.outputs
            self.report.unchanged.append(req.urn)
        elif (
            executor.needs_replace(previous.request.inputs, req.inputs)
            or replaced_on_request(req.replace_on_changes, previous.request.inputs, req.inputs)
            or previous.request.provider != req.provider
        ):
            if req.delete_before_replace or executor.delete_before_replace:
                executor.delete(self.context, previous)
                rid, outputs = executor.create(self.context, req)
            else:
                # Create before delete: the engine deletes the replaced resource at the end of
                # the run, after its dependents have been updated.
                rid, outputs = executor.create(self.context, req)
                with self._lock:
                    self.replaced_pending_delete.append(previous)
            self.report.replaced.append(req.urn)
        else:
            rid, outputs = executor.update(self.context, req, previous)
            self.report.updated.append(req.urn)
        with self._lock:
            self.current[req.urn] = Recorded(req, rid, outputs)
        return rid, outputs

    def unprotect(self, name_prefix: str) -> list[str]:
        """What `pulumi state unprotect <urn>` does to the state, for every resource whose name
        starts with the prefix: the next run may delete them."""
        found = [urn for urn in self.state if urn.rsplit("::", 1)[-1].startswith(name_prefix)]
        for urn in found:
            recorded = self.state[urn]
            recorded.request.protect = False
        return found

    def finish(self) -> RunReport:
        """Deletes what the previous run had and this run did not declare; the current run
        becomes the state the next run is compared with."""
        for recorded in reversed(self.replaced_pending_delete):
            self.executors[recorded.request.type].delete(self.context, recorded)
        self.replaced_pending_delete = []
        gone = [urn for urn in reversed(self.order) if urn in self.state and urn not in self.current]
        protected = [urn for urn in gone if self.state[urn].request.protect]
        if protected:
            raise ProtectedResource(
                "refusing to delete protected resources (pulumi state unprotect first): "
                + ", ".join(protected)
            )
        for urn in gone:
            recorded = self.state[urn]
            self.executors[recorded.request.type].delete(self.context, recorded)
            self.report.deleted.append(urn)
        self.order = [u for u in self.order if u in self.current] + [
            u for u in self.current if u not in self.order
        ]
        self.state = dict(self.current)
        return self.report

    def destroy(self) -> None:
        """Deletes every resource of the state, last created first (like `pulumi destroy`)."""
        for urn in reversed(self.order):
            recorded = self.state.get(urn)
            if recorded is not None:
                with contextlib.suppress(Exception):
                    self.executors[recorded.request.type].delete(self.context, recorded)
        self.state = {}
        self.order = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise UnhonouredInput(f"provider function {args.token} is not honoured by the acting mocks")
