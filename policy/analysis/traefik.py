"""Traefik configuration of a stack, whatever form it takes.

Sources, each turned into one nested tree with lower-case keys (Traefik matches option names
case-insensitively; labels and environment variables are lower-case anyway):
- static: command-line flags and TRAEFIK_* variables of a Traefik workload, and any uploaded or
  Swarm-config file whose content is Traefik static configuration (entryPoints, providers,
  certificatesResolvers, serversTransport, api);
- dynamic: `traefik.*` labels of any container or service (Docker/Swarm providers), and any file
  whose content is Traefik dynamic configuration (http/tcp/udp routers and services, tls).
Files are recognised by content, not by path, so a file uploaded elsewhere still counts.

Traefik itself reads one static source only (file, else flags, else environment); the pack
merges them all, so a dangerous setting is found whichever source it sits in.
"""

from __future__ import annotations

import base64
import binascii
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import yaml

from .stack import COMMANDS, DOCKER_SECRET, SERVICE_CONFIG, Resource
from .values import is_unknown
from .workloads import Workload

if TYPE_CHECKING:
    from .stack import StackModel

STATIC_KEYS = frozenset({"entrypoints", "providers", "certificatesresolvers", "serverstransport", "api"})
DYNAMIC_KEYS = {
    "http": {"routers", "services", "middlewares", "serverstransports"},
    "tcp": {"routers", "services", "middlewares", "serverstransports"},
    "udp": {"routers", "services"},
    "tls": {"options", "certificates", "stores"},
}
# Label prefixes that configure the provider itself, not routing.
PROVIDER_LABEL_PREFIXES = ("traefik.enable", "traefik.docker.", "traefik.swarm.", "traefik.constraint")
LEAF = "__value__"


@dataclass(frozen=True)
class Source:
    resource: Resource
    field: str
    form: str  # "file" | "labels" | "flags" | "environment" | "swarm config"
    path: str = ""

    def describe(self) -> str:
        where = f"{self.resource.label} {self.field}"
        return f"{where} ({self.form}{': ' + self.path if self.path else ''})"


@dataclass
class Router:
    protocol: str  # http | tcp | udp
    name: str
    conf: dict[str, Any]
    source: Source
    implicit: bool = False


@dataclass
class StaticConfig:
    """One Traefik's static configuration: each source's own tree, and all of them merged."""

    workload: Workload | None
    parts: list[tuple[Source, dict[str, Any]]]

    @cached_property
    def tree(self) -> dict[str, Any]:
        return merge_trees([t for _, t in self.parts])

    def source_of(self, *path: str) -> Source | None:
        """The (last) source that sets `path`."""
        found = None
        for src, tree in self.parts:
            if get(tree, *path) is not None:
                found = src
        return found


@dataclass
class Unverifiable:
    resource: Resource
    field: str
    why: str


@dataclass
class TraefikFacts:
    statics: list[StaticConfig] = field(default_factory=list)
    dynamics: list[tuple[Source, dict[str, Any]]] = field(default_factory=list)
    routers: list[Router] = field(default_factory=list)
    unverifiable: list[Unverifiable] = field(default_factory=list)
    traefik_workloads: list[Workload] = field(default_factory=list)

    @staticmethod
    def of(model: StackModel) -> TraefikFacts:
        facts = TraefikFacts()
        edges = model.edges
        unknown_labels: list[tuple[Workload, str]] = []
        for w in model.workloads:
            traefik = edges.is_traefik(w)
            if traefik is True:
                facts.traefik_workloads.append(w)
            static_trees: list[tuple[Source, dict[str, Any]]] = []
            if traefik is True:
                flags = flags_tree(w.argv)
                if flags:
                    static_trees.append((Source(w.resource, w.argv_field, "flags"), flags))
                if is_unknown(w.env):
                    facts.unverifiable.append(
                        Unverifiable(w.resource, w.env_field, "environment of a Traefik workload")
                    )
                else:
                    env = env_tree(w.env or {})
                    if env:
                        static_trees.append((Source(w.resource, w.env_field, "environment"), env))
                if any(is_unknown(a) or (not isinstance(a, str)) for a in w.argv):
                    facts.unverifiable.append(
                        Unverifiable(w.resource, w.argv_field, "command of a Traefik workload")
                    )
            for upload in w.uploads:
                content = upload.content
                if (
                    is_unknown(content)
                    or is_unknown(upload.path)
                    or (content is None and upload.source is not None)
                ):
                    if traefik is not False:
                        why = "uploaded file of a Traefik workload" + (
                            " (read from the operator's machine, not visible to the pack)"
                            if content is None
                            else ""
                        )
                        facts.unverifiable.append(Unverifiable(w.resource, upload.field, why))
                    continue
                if not isinstance(content, str):
                    continue
                path = upload.path if isinstance(upload.path, str) else ""
                facts._add_file(Source(w.resource, upload.field, "file", path), content, path, static_trees)
            for lab_field, labels in w.label_sources:
                if is_unknown(labels):
                    if traefik is not False:
                        facts.unverifiable.append(Unverifiable(w.resource, lab_field, "labels"))
                    else:
                        unknown_labels.append((w, lab_field))
                    continue
                tree, implicit = labels_tree(labels or {})
                if tree is None:
                    continue
                src = Source(w.resource, lab_field, "labels")
                facts.dynamics.append((src, tree))
                if implicit:
                    facts.routers.append(Router("http", w.name.lower(), {}, src, implicit=True))
            if traefik is True:
                for ref in w.configs:
                    if is_unknown(ref.config_id) and is_unknown(ref.config_name):
                        facts.unverifiable.append(
                            Unverifiable(w.resource, ref.field, "Swarm config of a Traefik service")
                        )
                facts.statics.append(StaticConfig(w, static_trees))
            elif static_trees:
                facts.statics.append(StaticConfig(None, static_trees))
        for r in model.of_type(SERVICE_CONFIG, DOCKER_SECRET):
            data = r.props.get("data")
            if is_unknown(data):
                continue
            if not isinstance(data, str):
                continue
            try:
                content = base64.b64decode(data, validate=False).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                continue
            sink: list[tuple[Source, dict[str, Any]]] = []
            facts._add_file(Source(r, "data", "swarm config"), content, "", sink)
            if sink:
                facts.statics.append(StaticConfig(None, sink))
        facts._add_command_files(model)
        # Unknown labels can hide routers only where a Traefik reads labels (Docker or Swarm
        # provider), or where the pack cannot tell because no static configuration is visible.
        if unknown_labels and (not facts.statics or any(reads_labels(st.tree) for st in facts.statics)):
            for w, lab_field in unknown_labels:
                facts.unverifiable.append(
                    Unverifiable(
                        w.resource, lab_field, "labels, which a Traefik provider may read as routers"
                    )
                )
        for src, tree in facts.dynamics:
            for proto in ("http", "tcp", "udp"):
                routers = (
                    (tree.get(proto) or {}).get("routers") if isinstance(tree.get(proto), dict) else None
                )
                if isinstance(routers, dict):
                    for name, conf in routers.items():
                        facts.routers.append(Router(proto, name, conf if isinstance(conf, dict) else {}, src))
        return facts

    def _add_command_files(self, model: StackModel) -> None:
        """Configuration a host Command writes from its stdin (onto a volume a Traefik workload
        mounts). Known content is read like any file; unknown content that a Traefik workload
        waits for and that the program names as a configuration file cannot be verified."""
        traefik = [w.resource for w in self.traefik_workloads]
        for cmd in model.of_type(*COMMANDS):
            stdin = cmd.props.get("stdin")
            program = cmd.props.get("create")
            path = written_config_path(program)
            if isinstance(stdin, str):
                if "\n" not in stdin or not any(ch in stdin for ch in ":=["):
                    continue
                sink: list[tuple[Source, dict[str, Any]]] = []
                self._add_file(Source(cmd, "stdin", "file written by a command", path), stdin, path, sink)
                if sink:
                    self.statics.append(StaticConfig(None, sink))
            elif is_unknown(stdin) and path and any(model.depends_on(t, cmd.urn) for t in traefik):
                self.unverifiable.append(
                    Unverifiable(cmd, "stdin", f"{path}, a configuration file a Traefik workload depends on")
                )

    def _add_file(
        self, src: Source, content: str, path: str, static_sink: list[tuple[Source, dict[str, Any]]]
    ) -> None:
        tree = parse_config_text(content, path)
        if tree is None:
            return
        kind = classify(tree)
        if kind in ("static", "both"):
            static_sink.append((src, tree))
        if kind in ("dynamic", "both"):
            self.dynamics.append((src, tree))

    # --- queries -----------------------------------------------------------------------

    def entrypoints(self) -> dict[str, tuple[dict[str, Any], Source | None]]:
        out: dict[str, tuple[dict[str, Any], Source | None]] = {}
        for s in self.statics:
            eps = s.tree.get("entrypoints")
            if isinstance(eps, dict):
                for name, conf in eps.items():
                    out[name] = (conf if isinstance(conf, dict) else {}, s.source_of("entrypoints", name))
        return out

    def router_entrypoints(self, router: Router) -> list[str] | None:
        """The entrypoints a router listens on; None when they depend on static config the pack
        does not see (a router without entryPoints listens on the default ones)."""
        listed = as_names(router.conf.get("entrypoints"))
        if listed:
            return listed
        eps = self.entrypoints()
        if not eps:
            return None
        defaults = [n for n, (c, _) in eps.items() if str(get(c, "asdefault")).lower() == "true"]
        return defaults or list(eps)

    def middlewares(self) -> dict[str, tuple[dict[str, Any], Source]]:
        out: dict[str, tuple[dict[str, Any], Source]] = {}
        for src, tree in self.dynamics:
            mws = get(tree, "http", "middlewares")
            if isinstance(mws, dict):
                for name, conf in mws.items():
                    out[name] = (conf if isinstance(conf, dict) else {}, src)
        return out

    def tls_options(self) -> Iterator[tuple[str, dict[str, Any], Source]]:
        for src, tree in self.dynamics:
            options = get(tree, "tls", "options")
            if isinstance(options, dict):
                for name, conf in options.items():
                    yield name, conf if isinstance(conf, dict) else {}, src

    def all_trees(self) -> Iterator[tuple[Source, dict[str, Any]]]:
        """Every source with its own tree (static and dynamic)."""
        for s in self.statics:
            yield from s.parts
        yield from self.dynamics


# --- parsing helpers ------------------------------------------------------------------------


_CONFIG_PATH = re.compile(r"[\w./-]+\.(?:ya?ml|toml)\b")


def written_config_path(program: Any) -> str:
    """The first YAML/TOML file name a program mentions ('' if none or unknown)."""
    if not isinstance(program, str):
        return ""
    m = _CONFIG_PATH.search(program)
    return m.group(0) if m else ""


def reads_labels(static: dict[str, Any]) -> bool:
    providers = static.get("providers")
    return isinstance(providers, dict) and any(p in providers for p in ("docker", "swarm"))


def lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value


def parse_config_text(content: str, path: str = "") -> dict[str, Any] | None:
    data: Any = None
    if path.endswith(".toml"):
        try:
            data = tomllib.loads(content)
        except tomllib.TOMLDecodeError:
            return None
    else:
        try:
            data = yaml.safe_load(content)
        except yaml.YAMLError:
            try:
                data = tomllib.loads(content)
            except tomllib.TOMLDecodeError:
                return None
    if not isinstance(data, dict):
        return None
    return lower_keys(data)


def classify(tree: dict[str, Any]) -> str | None:
    static = any(k in tree for k in STATIC_KEYS)
    dynamic = any(isinstance(tree.get(k), dict) and set(tree[k]) & subs for k, subs in DYNAMIC_KEYS.items())
    if static and dynamic:
        return "both"
    return "static" if static else "dynamic" if dynamic else None


def set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    node = tree
    for step in path[:-1]:
        nxt = node.get(step)
        if not isinstance(nxt, dict):
            nxt = {} if nxt is None else {LEAF: nxt}
            node[step] = nxt
        node = nxt
    last = path[-1]
    if isinstance(node.get(last), dict):
        node[last][LEAF] = value
    else:
        node[last] = value


def merge_trees(trees: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in trees:
        _merge_into(out, t)
    return out


def _merge_into(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge_into(dst[k], v)
        elif isinstance(v, dict) and k in dst and not isinstance(dst[k], dict):
            dst[k] = {LEAF: dst[k], **v}
        else:
            dst[k] = v


def flags_tree(argv: list[Any]) -> dict[str, Any]:
    """Traefik static configuration from command-line flags (--a.b.c=value, --a.b.c value, --flag)."""
    tree: dict[str, Any] = {}
    words = [a for a in argv if isinstance(a, str)]
    i = 0
    while i < len(words):
        w = words[i]
        if w.startswith("--") and len(w) > 2:
            key, eq, value = w[2:].partition("=")
            if not eq:
                if i + 1 < len(words) and not words[i + 1].startswith("-"):
                    value = words[i + 1]
                    i += 1
                else:
                    value = "true"
            set_path(tree, key.lower().split("."), value)
        i += 1
    return tree


def env_tree(env: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in env.items():
        if name.upper().startswith("TRAEFIK_") and isinstance(value, str):
            set_path(tree, name[len("TRAEFIK_") :].lower().split("_"), value)
    return tree


def labels_tree(labels: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """(dynamic config from traefik.* labels, whether the provider would make an implicit router)."""
    relevant = {k: v for k, v in labels.items() if isinstance(k, str) and k.lower().startswith("traefik.")}
    if not relevant:
        return None, False
    enable = next((v for k, v in relevant.items() if k.lower() == "traefik.enable"), None)
    if isinstance(enable, str) and enable.strip().lower() == "false":
        return None, False
    tree: dict[str, Any] = {}
    for key, value in relevant.items():
        lower = key.lower()
        if lower.startswith(PROVIDER_LABEL_PREFIXES):
            continue
        set_path(tree, lower[len("traefik.") :].split("."), value)
    has_routers = any(isinstance(tree.get(p), dict) and "routers" in tree[p] for p in ("http", "tcp", "udp"))
    # The Docker/Swarm provider creates a router (Host(`name`), default entrypoints, no TLS)
    # for an enabled container that defines none.
    return tree, not has_routers


def get(tree: Any, *path: str) -> Any:
    for step in path:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(step)
    if isinstance(tree, dict) and LEAF in tree and len(tree) == 1:
        return tree[LEAF]
    return tree


def as_names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):
        if LEAF in value:
            return as_names(value[LEAF])
        # labels with list indices: entrypoints[0]=web -> {"entrypoints[0]": ...} is not produced;
        # a map of index -> name is
        return [str(v) for v in value.values()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def enabled(value: Any) -> bool:
    """A TLS section is on when present and not false ('tls: {}' counts as on)."""
    if value is None:
        return False
    if isinstance(value, dict):
        if LEAF in value:
            leaf = value[LEAF]
            return not (isinstance(leaf, str) and leaf.strip().lower() == "false") and leaf is not False
        return True
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("false", "0", "")


def strip_provider(name: str) -> str:
    return name.split("@", 1)[0].lower()


def find_key(tree: Any, key: str, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every occurrence of `key` (lower-case) in a tree, with its path."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == key:
                yield (*path, k), (v[LEAF] if isinstance(v, dict) and LEAF in v else v)
            yield from find_key(v, key, (*path, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from find_key(v, key, (*path, str(i)))
