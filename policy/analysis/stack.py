"""The stack as the pack sees it: resources with decoded properties and their relationships.

Built once per AnalyzeStack call (and once per resource for Analyze); every derived fact (LUKS
mappings, workloads, Traefik configuration, networks) is computed lazily and cached here, so the
rules that need the same fact share one computation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from .values import decode

F = TypeVar("F")


# Resource types the rules read (tokens as the engine sends them).
CONTAINER = "docker:index/container:Container"
SERVICE = "docker:index/service:Service"
VOLUME = "docker:index/volume:Volume"
NETWORK = "docker:index/network:Network"
SERVICE_CONFIG = "docker:index/serviceConfig:ServiceConfig"
DOCKER_SECRET = "docker:index/secret:Secret"  # noqa: S105 - a type token
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
REGISTRY_IMAGE = "docker:index/registryImage:RegistryImage"
LOCAL_COMMAND = "command:local:Command"
REMOTE_COMMAND = "command:remote:Command"
COMMANDS = (LOCAL_COMMAND, REMOTE_COMMAND)
WORKLOADS = (CONTAINER, SERVICE)
# Certificate generators: their certificates are fresh at creation, so an unknown certificate
# that comes from one of them cannot be expired.
CERTIFICATE_GENERATORS = (
    "tls:index/selfSignedCert:SelfSignedCert",
    "tls:index/locallySignedCert:LocallySignedCert",
)


def display_type(token: str) -> str:
    """'docker:index/container:Container' -> 'docker.Container' (the Python SDK's spelling)."""
    parts = token.split(":")
    if len(parts) != 3:
        return token
    package, module, name = parts
    if module == "index" or module.startswith("index/"):
        return f"{package}.{name}"
    return f"{package}.{module.split('/')[0]}.{name}"


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    props: dict[str, Any]
    secrets: frozenset[str] = frozenset()
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    provider_urn: str | None = None

    @property
    def label(self) -> str:
        return f"{display_type(self.type)} '{self.name}'"

    def get(self, key: str, default: Any = None) -> Any:
        return self.props.get(key, default)


def resource_from_json(
    *,
    urn: str,
    type_: str,
    name: str,
    properties: Mapping[str, Any],
    parent: str | None = None,
    dependencies: Iterable[str] = (),
    property_dependencies: Mapping[str, Iterable[str]] | None = None,
    provider_urn: str | None = None,
) -> Resource:
    secrets: set[str] = set()
    props = {k: decode(v, secrets) for k, v in properties.items() if not k.startswith("__")}
    return Resource(
        urn=urn,
        type=type_,
        name=name,
        props=props,
        secrets=frozenset(secrets),
        parent=parent or None,
        dependencies=tuple(dependencies),
        property_dependencies={k: tuple(v) for k, v in (property_dependencies or {}).items()},
        provider_urn=provider_urn or None,
    )


@dataclass(frozen=True)
class StackInfo:
    """What the engine tells the pack about the stack: ConfigureStack, or the environment the
    engine starts the pack with (PULUMI_STACK, PULUMI_PROJECT, PULUMI_CONFIG, PULUMI_DRY_RUN)."""

    stack: str = ""
    project: str = ""
    organization: str = ""
    dry_run: bool | None = None
    config: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def from_environment(environ: Mapping[str, str] | None = None) -> StackInfo:
        env = os.environ if environ is None else environ
        config: dict[str, str] = {}
        raw = env.get("PULUMI_CONFIG")
        if raw:
            try:
                loaded = json.loads(raw)
                if isinstance(loaded, dict):
                    config = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in loaded.items()}
            except json.JSONDecodeError:
                config = {}
        dry = env.get("PULUMI_DRY_RUN")
        return StackInfo(
            stack=env.get("PULUMI_STACK", ""),
            project=env.get("PULUMI_PROJECT", ""),
            organization=env.get("PULUMI_ORGANIZATION", ""),
            dry_run=None if dry is None else dry == "true",
            config=config,
        )

    def config_value(self, key: str) -> str | None:
        """A stack config value by bare key ('environment') or namespaced key ('proj:environment')."""
        if key in self.config:
            return self.config[key]
        if self.project and f"{self.project}:{key}" in self.config:
            return self.config[f"{self.project}:{key}"]
        for k, v in self.config.items():
            if k.endswith(f":{key}"):
                return v
        return None


class StackModel:
    def __init__(self, resources: Iterable[Resource], info: StackInfo | None = None) -> None:
        self.resources = list(resources)
        self.info = info or StackInfo()
        self.by_urn: dict[str, Resource] = {r.urn: r for r in self.resources}
        self._by_type: dict[str, list[Resource]] = {}
        for r in self.resources:
            self._by_type.setdefault(r.type, []).append(r)

    def of_type(self, *types: str) -> list[Resource]:
        out: list[Resource] = []
        for t in types:
            out.extend(self._by_type.get(t, ()))
        return out

    # --- relationships ------------------------------------------------------------------

    def depends_on(self, resource: Resource, target_urn: str) -> bool:
        """True when `resource` depends on `target_urn` directly or through other resources
        (explicit and property dependencies; the SDK already expands a dependency on a component
        into its children)."""
        return target_urn in self._closure(resource.urn)

    def _closure(self, urn: str) -> frozenset[str]:
        cache: dict[str, frozenset[str]] = self.__dict__.setdefault("_closure_cache", {})
        if urn in cache:
            return cache[urn]
        seen: set[str] = set()
        pending = [urn]
        while pending:
            node = self.by_urn.get(pending.pop())
            if node is None:
                continue
            nexts = set(node.dependencies)
            for deps in node.property_dependencies.values():
                nexts.update(deps)
            for d in nexts - seen:
                seen.add(d)
                pending.append(d)
        result = frozenset(seen)
        cache[urn] = result
        return result

    def named(self, type_: str, name: str) -> list[Resource]:
        """Resources of a type whose `name` property (the Docker name) is `name`."""
        cache: dict[str, dict[str, list[Resource]]] = self.__dict__.setdefault("_named", {})
        index = cache.get(type_)
        if index is None:
            index = {}
            for r in self.of_type(type_):
                n = r.props.get("name")
                if isinstance(n, str):
                    index.setdefault(n, []).append(r)
            cache[type_] = index
        return index.get(name, [])

    def property_sources(
        self, resource: Resource, key: str, types: Iterable[str] | None = None
    ) -> list[Resource]:
        """The resources a top-level property's value was computed from (property dependencies)."""
        wanted = set(types) if types is not None else None
        out = []
        for urn in resource.property_dependencies.get(key, ()):
            dep = self.by_urn.get(urn)
            if dep is not None and (wanted is None or dep.type in wanted):
                out.append(dep)
        return out

    # --- derived facts (lazy, shared by the rules) --------------------------------------

    def fact(self, derive: Callable[[StackModel], F]) -> F:
        """A fact derived from the whole stack (`LuksFacts.of`, `TraefikFacts.of`, `EdgeFacts.of`,
        `workloads_of`, ...), computed once per model and shared by every rule that asks. The
        fact's module imports this one, never the reverse."""
        cache: dict[Callable[[StackModel], Any], Any] = self.__dict__.setdefault("_facts", {})
        if derive not in cache:
            cache[derive] = derive(self)
        return cast(F, cache[derive])
