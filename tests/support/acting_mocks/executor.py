"""What the engine hands an executor (one registration, its recorded result, the shared
context) and the executor interface every resource type implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import docker

from .inputs import UnhonouredInput
from .replacement import PROVIDER_DELETE_BEFORE_REPLACE, PROVIDER_REPLACEMENT, Rule, replacing_inputs


@dataclass
class Request:
    """What the engine would know about one registration."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str
    parent: str
    dependencies: list[str]
    delete_before_replace: bool
    protect: bool = False
    # The `replaceOnChanges` resource option: the engine replaces when one of these inputs
    # changes, whatever the provider says ("*": any input).
    replace_on_changes: tuple[str, ...] = ()


@dataclass
class Recorded:
    request: Request
    id: str
    outputs: dict[str, Any]


class Context:
    """What executors share: Docker clients per provider, the image map, the command runner."""

    def __init__(
        self,
        *,
        image_map: Mapping[str, str],
        command_prefix: list[str],
        default_docker_host: str | None = None,
    ) -> None:
        self.image_map = dict(image_map)
        self.command_prefix = list(command_prefix)
        self.default_docker_host = default_docker_host
        self.clients: dict[str, docker.DockerClient] = {}
        self.log: list[str] = []

    def client(self, provider_ref: str) -> docker.DockerClient:
        """The Docker client of a provider reference ('<provider urn>::<provider id>')."""
        client = self.clients.get(provider_ref)
        if client is not None:
            return client
        if not provider_ref and self.default_docker_host:
            return self.open_client(self.default_docker_host)
        raise UnhonouredInput(
            f"no docker provider registered for {provider_ref or 'the default provider'}; "
            "the program must pass an explicit docker.Provider"
        )

    def open_client(self, host: str) -> docker.DockerClient:
        """A new client of the Docker engine at `host` (a provider's `host` input)."""
        return docker.DockerClient(base_url=host, version="1.41", timeout=120)


class Executor:
    type: str = ""
    fields: Mapping[str, Any] = {}

    @property
    def replace_on(self) -> Mapping[str, Rule]:
        """How the real provider treats a change of each input (PROVIDER_REPLACEMENT)."""
        return PROVIDER_REPLACEMENT[self.type]

    @property
    def delete_before_replace(self) -> bool:
        return self.type in PROVIDER_DELETE_BEFORE_REPLACE

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        """Only reached for IN_PLACE changes (everything else replaces). The default: the provider
        applies nothing to the real object and records the new inputs (what the bridged docker,
        random and tls providers do for their updatable-only-in-state arguments)."""
        return previous.id, {**previous.outputs, **req.inputs}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        raise NotImplementedError

    def needs_replace(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        return bool(replacing_inputs(self.replace_on, old, new))
