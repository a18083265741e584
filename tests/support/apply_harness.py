"""Apply harness (test-only): perform a stack on a real remote Docker host, the way `pulumi up`
would with the real providers, using the SDK's mock runtime.

It is the acting mocks (tests/support/acting_mocks/) with two executors that act remotely:

- `command:remote:Command` runs its create/update/delete text over SSH with exactly the declared
  `connection` (host, port, user, private key, pinned host key) and `stdin`, as pulumi-command's
  remote provider does (`session.Run(text)` = `ssh host -- text`).
- `pulumi:providers:docker` with an `ssh://` host opens the Docker SDK over the system ssh with
  the provider's declared `sshOpts` (the key file and pinned known_hosts the program wrote), so
  networks, volumes, images and containers are created on the remote engine.

Nothing is stood in for: LUKS programs, SecretFiles, the host firewall and the PID-limit commands
run for real on the remote host; random and TLS resources produce real values. The only mapping is
the acting mocks' `image_map` (there is no registry: pinned references map to images imported
into the remote engine). No local command may run (`command:local:Command` has no executor).

State per URN is kept between runs (see ActingMocks): a second apply does nothing for unchanged
resources, runs `update` for changed commands, replaces changed containers and deletes resources
that are no longer declared. Any input field not listed below fails the run (UnhonouredInput).

Honoured input fields, beyond those of the acting mocks:
  command:remote:Command             connection[host, port, user, privateKey, hostKey,
      dialErrorLimit, perDialTimeout], create, update, delete, stdin, triggers,
      addPreviousOutputInEnv (must be false). Replacement follows PROVIDER_REPLACEMENT (acting
      mocks): a change of `triggers` replaces the command (the new one's create, then the old
      one's delete at the end of the run), as the provider does; other changes, `connection`
      included, run `update` (or `create`).
  pulumi:providers:docker            host (unix:// or ssh://), sshOpts (JSON list, as the SDK
      sends provider config)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker

from .acting_mocks.docker_resources import DockerProviderExecutor
from .acting_mocks.engine import ActingMocks, RunReport, default_executors
from .acting_mocks.executor import Context, Executor, Recorded, Request
from .acting_mocks.inputs import HONOURED, UnhonouredInput
from .acting_mocks.monitor import ActingMonitor, deploy
from .analyzer import CapturedResource, CapturedStack, captured_resource
from .docker_ssh import ssh_docker_client
from .program_runner import PROJECT, ProgramRun, engine_config

SSH = "/usr/bin/ssh"


class RemoteCommandFailed(RuntimeError):
    """A remote command exited non-zero. The message never contains its stdin."""


class SshConnection:
    """ssh argv for a pulumi-command `connection`: its key and pinned host key in private files."""

    def __init__(self, workdir: Path, connection: Mapping[str, Any]) -> None:
        self.host = connection["host"]
        self.port = int(connection.get("port") or 22)
        self.user = connection.get("user") or "root"
        self.attempts = max(1, int(connection.get("dialErrorLimit") or 10))
        self.timeout = int(connection.get("perDialTimeout") or 15)
        key = connection.get("privateKey")
        if not key:
            raise UnhonouredInput(
                "remote command connection without privateKey (password/agent logins are not performed)"
            )
        digest = hashlib.sha256(f"{key}{self.host}{self.port}".encode()).hexdigest()[:16]
        directory = workdir / f"ssh-{digest}"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.key_file = directory / "id"
        if not self.key_file.exists():
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(key if key.endswith("\n") else key + "\n")
        host_key = connection.get("hostKey")
        self.pinning: list[str]
        if host_key:
            known = directory / "known_hosts"
            name = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
            known.write_text(f"{name} {' '.join(host_key.split()[:2])}\n")
            self.pinning = ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known}"]
        else:  # the provider accepts any host key when none is pinned
            self.pinning = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]

    def argv(self, text: str) -> list[str]:
        return [
            SSH, "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-i", str(self.key_file), *self.pinning, "-o", f"ConnectTimeout={self.timeout}",
            "-p", str(self.port), "-l", self.user, self.host, "--", text,
        ]  # fmt: skip

    def run(
        self, text: str, stdin: str | None, *, name: str, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        for attempt in range(self.attempts):
            result = subprocess.run(
                self.argv(text),
                input=stdin or "",
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            # 255: ssh itself failed (the dial); retry like the provider's dialErrorLimit.
            if (
                result.returncode != 255
                or "Connection refused" not in result.stderr
                or attempt == self.attempts - 1
            ):
                return result
            time.sleep(2)
        raise AssertionError("unreachable")


class RemoteCommandExecutor(Executor):
    type = "command:remote:Command"
    fields = {
        "connection": {
            "host": HONOURED,
            "port": HONOURED,
            "user": HONOURED,
            "privateKey": HONOURED,
            "hostKey": HONOURED,
            "dialErrorLimit": HONOURED,
            "perDialTimeout": HONOURED,
        },
        "create": HONOURED,
        "update": HONOURED,
        "delete": HONOURED,
        "stdin": HONOURED,
        "triggers": HONOURED,
        "addPreviousOutputInEnv": HONOURED,
    }

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.runs: list[tuple[str, str, float]] = []  # (resource, phase, seconds)

    def execute(
        self, inputs: Mapping[str, Any], text: str | None, *, name: str, phase: str
    ) -> dict[str, Any]:
        if inputs.get("addPreviousOutputInEnv", True):
            raise UnhonouredInput(f"command {name!r}: addPreviousOutputInEnv must be false")
        if not text:
            return {}
        connection = SshConnection(self.workdir, inputs["connection"])
        started = time.monotonic()
        result = connection.run(text, inputs.get("stdin"), name=name)
        self.runs.append((name, phase, time.monotonic() - started))
        if result.returncode != 0:
            raise RemoteCommandFailed(
                f"remote command {name!r} ({phase}) failed with exit {result.returncode}:\n{result.stderr[-3000:]}"
            )
        return {"stdout": result.stdout.rstrip("\n"), "stderr": result.stderr.rstrip("\n")}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        outputs = self.execute(req.inputs, req.inputs.get("create"), name=req.name, phase="create")
        return f"{req.name}-{uuid.uuid4().hex[:8]}", {**req.inputs, **outputs}

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        text = req.inputs.get("update") or req.inputs.get("create")
        outputs = self.execute(req.inputs, text, name=req.name, phase="update")
        return previous.id, {**req.inputs, **outputs}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        inputs = recorded.request.inputs
        self.execute(inputs, inputs.get("delete"), name=recorded.request.name, phase="delete")


class SshDockerProviderExecutor(DockerProviderExecutor):
    """A docker provider whose host may be ssh://: the Docker SDK runs the system ssh, through a
    wrapper that adds exactly the provider's sshOpts (what the provider's own ssh helper does)."""

    fields = {"host": HONOURED, "version": HONOURED, "sshOpts": HONOURED}

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.wrappers: dict[str, Path] = {}

    def _client(self, ctx: Context, inputs: Mapping[str, Any]) -> docker.DockerClient:
        host = inputs["host"]
        if not host.startswith("ssh://"):
            return ctx.open_client(host)
        options = json.loads(inputs.get("sshOpts") or "[]")
        digest = hashlib.sha256(json.dumps(options).encode()).hexdigest()[:12]
        wrapper_dir = self.workdir / f"docker-ssh-{digest}"
        wrapper_dir.mkdir(parents=True, exist_ok=True)
        wrapper = wrapper_dir / "ssh"
        quoted = " ".join(json.dumps(o) for o in options)
        wrapper.write_text(f'#!/bin/sh\nexec {SSH} -F /dev/null {quoted} "$@"\n')
        wrapper.chmod(0o755)
        path = os.environ.get("PATH", "")
        if not path.startswith(f"{wrapper_dir}:"):
            os.environ["PATH"] = f"{wrapper_dir}:{path}"
        return ssh_docker_client(host, timeout=300, max_pool_size=8, version="1.41")

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        if not req.inputs.get("host"):
            raise UnhonouredInput(f"docker provider {req.name!r} without host")
        client = self._client(ctx, req.inputs)
        client.ping()
        provider_id = str(uuid.uuid4())
        ctx.clients[f"{req.urn}::{provider_id}"] = client
        return provider_id, dict(req.inputs)

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        ctx.clients[f"{req.urn}::{previous.id}"] = self._client(ctx, req.inputs)
        return previous.id, dict(req.inputs)


class ApplyMonitor(ActingMonitor):
    """Also records each registration as the engine holds it (wire JSON), for the policy pack."""

    captured: list[CapturedResource]

    def __init__(self, mocks: Any) -> None:
        super().__init__(mocks)
        self.captured = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.captured.append(captured_resource(request, response))
        return response


class ApplyHarness:
    """`apply(config)` = one `pulumi up` of the project's program against the remote host."""

    def __init__(
        self, workdir: Path, *, image_map: Mapping[str, str], project: str = PROJECT, stack: str
    ) -> None:
        self.workdir = workdir
        self.project = project
        self.stack = stack
        self._path = os.environ.get("PATH", "")
        executors = default_executors()
        executors.pop("command:local:Command")  # a prod-like stack runs nothing on the operator's machine
        self.commands = RemoteCommandExecutor(workdir)
        self.providers = SshDockerProviderExecutor(workdir)
        executors[self.commands.type] = self.commands
        executors[self.providers.type] = self.providers
        self.context = Context(image_map=image_map, command_prefix=[])
        self.mocks = ActingMocks(self.context, executors)
        self.last_capture: CapturedStack | None = None

    def apply(
        self, config: Mapping[str, Any], secret_config: Mapping[str, str]
    ) -> tuple[ProgramRun, RunReport]:
        monitors: list[ApplyMonitor] = []

        class Monitor(ApplyMonitor):
            def __init__(self, mocks: Any) -> None:
                super().__init__(mocks)
                monitors.append(self)

        run, report = deploy(
            self.mocks,
            config=config,
            secret_config=secret_config,
            project=self.project,
            stack=self.stack,
            monitor_class=Monitor,
        )
        as_engine = engine_config(config, secret_config, self.project)
        self.last_capture = CapturedStack(self.project, self.stack, False, as_engine, monitors[0].captured)
        return run, report

    def reconnect(self) -> None:
        """New Docker connections for every provider (after the host rebooted)."""
        for recorded in self.mocks.state.values():
            if recorded.request.type == self.providers.type:
                key = f"{recorded.request.urn}::{recorded.id}"
                old = self.context.clients.get(key)
                if old is not None:
                    with contextlib.suppress(Exception):
                        old.close()
                self.context.clients[key] = self.providers._client(self.context, recorded.request.inputs)  # noqa: SLF001

    def recorded(self, type_: str, name: str) -> Recorded:
        found = [r for r in self.mocks.state.values() if r.request.type == type_ and r.request.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} {type_} named {name!r}")
        return found[0]

    def of_type(self, type_: str) -> list[Recorded]:
        return [r for r in self.mocks.state.values() if r.request.type == type_]

    def rerun(self, recorded: Recorded) -> dict[str, Any]:
        """Runs a command's `update` (else `create`) again, as-is: every program must detect that
        there is nothing left to do."""
        inputs = recorded.request.inputs
        return self.commands.execute(
            inputs, inputs.get("update") or inputs.get("create"), name=recorded.request.name, phase="rerun"
        )

    def docker(self) -> docker.DockerClient:
        clients = list(self.context.clients.values())
        if len(clients) != 1:
            raise RuntimeError(f"{len(clients)} docker providers")
        return clients[0]

    def close(self) -> None:
        for client in self.context.clients.values():
            with contextlib.suppress(Exception):
                client.close()
        os.environ["PATH"] = self._path
