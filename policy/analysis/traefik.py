"""Traefik configuration of a stack, whatever form it takes.

Sources, each turned into one nested tree with lower-case keys (Traefik matches option names
case-insensitively; labels and environment variables are lower-case anyway):
- static: command-line flags and TRAEFIK_* variables of a Traefik workload, and any uploaded or
  Swarm-config file whose content is Traefik static configuration (entryPoints, providers,
  certificatesResolvers, serversTransport, api);
- dynamic: `traefik.*` labels of any container or service (Docker/Swarm providers), and any file
  whose content is Traefik dynamic configuration (http/tcp/udp routers and services, tls).
Files are recognised by content, not by path, so a file uploaded elsewhere still counts.

Static configuration is modelled exactly as Traefik loads it (cmd/traefik and pkg/cli of
traefik/traefik, paerser's Finder): ONE source. The file named by `--configFile` (spelled
`configFile` or `configfile`; $VARS expanded from the container's environment), else the first
that exists of /etc/traefik/traefik.{toml,yaml,yml}, $XDG_CONFIG_HOME/traefik.*,
$HOME/.config/traefik.* and ./traefik.* (working directory). If a file is found, flags and
TRAEFIK_* variables are ignored; otherwise the flags if there are any arguments, else the
environment. Which files exist where is read from the workload's uploads, Swarm configs and
mounts (analysis.container_files); a candidate path whose existence or content the pack cannot
see is unverifiable (fail closed). Images named traefik are assumed to ship no configuration
file (the official image has none).

The file provider's files are those below its `directory` (recursively, .toml/.yaml/.yml) or
its `filename`, in the same container view; each must be known and not a Go template.
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

from .container_files import ContainerFile, ContainerView, OpaqueRegion, Placement
from .edge import EdgeFacts
from .stack import COMMANDS, DOCKER_SECRET, SERVICE_CONFIG, Resource
from .values import is_unknown
from .workloads import Workload, workloads_of

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
# paerser's Finder: default locations, in order, each with these extensions in order.
DEFAULT_CONFIG_BASES = (
    "/etc/traefik/traefik",
    "$XDG_CONFIG_HOME/traefik",
    "$HOME/.config/traefik",
    "./traefik",
)
DEFAULT_CONFIG_EXTENSIONS = ("toml", "yaml", "yml")
STATIC_FILE_EXTENSIONS = (".toml", ".yaml", ".yml", ".json")
PROVIDER_FILE_EXTENSIONS = (".toml", ".yaml", ".yml")
# Keys under `providers` that are settings, not providers.
PROVIDER_SETTINGS = frozenset({"providersthrottleduration", "precedence"})
# The one provider whose routers the pack reads in full.
VISIBLE_PROVIDERS = frozenset({"file"})
# Last segments of boolean or pointer flags: given without a value they mean true (paerser does
# not consume the next argument for them).
BOOLEAN_FLAGS = frozenset(
    {
        "insecure",
        "dashboard",
        "debug",
        "watch",
        "permanent",
        "asdefault",
        "exposedbydefault",
        "tls",
        "ping",
        "api",
        "accesslog",
        "metrics",
        "prometheus",
        "insecureskipverify",
        "checknewversion",
        "sendanonymoususage",
        "ocsp",
        "file",
        "docker",
        "swarm",
        "http",
        "rest",
        "redis",
        "etcd",
        "consul",
        "zookeeper",
        "ecs",
        "nomad",
        "consulcatalog",
        "kubernetescrd",
        "kubernetesingress",
        "kubernetesgateway",
        "kubernetesingressnginx",
        "knative",
        "passhostheader",
        "trustforwardheader",
        "usebindportip",
        "allowemptyservices",
        "snistrict",
    }
)


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
    """One Traefik's static configuration: the one source Traefik loads (`parts` has one entry,
    or none when that source is unknown or empty)."""

    workload: Workload | None
    parts: list[tuple[Source, dict[str, Any]]]
    chosen: str = ""  # "file <path>" | "flags" | "environment" | "defaults" | "" (unknown)
    ignored: list[Source] = field(default_factory=list)  # sources Traefik does not read

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
    unseen: bool = False  # True: not a preview unknown; the pack cannot see it at all


@dataclass
class Provider:
    workload: Workload
    name: str  # lower-case key under `providers`
    conf: Any
    source: Source


@dataclass
class TraefikFacts:
    statics: list[StaticConfig] = field(default_factory=list)
    dynamics: list[tuple[Source, dict[str, Any]]] = field(default_factory=list)
    routers: list[Router] = field(default_factory=list)
    unverifiable: list[Unverifiable] = field(default_factory=list)
    traefik_workloads: list[Workload] = field(default_factory=list)
    providers: list[Provider] = field(default_factory=list)

    @staticmethod
    def of(model: StackModel) -> TraefikFacts:
        facts = TraefikFacts()
        edges = model.fact(EdgeFacts.of)
        unknown_labels: list[tuple[Workload, str]] = []
        seen: set[tuple[str, str]] = set()
        for w in model.fact(workloads_of):
            traefik = edges.is_traefik(w)
            if traefik is True:
                facts.traefik_workloads.append(w)
            for upload in w.uploads:
                content = upload.content
                if (
                    is_unknown(content)
                    or is_unknown(upload.path)
                    or (content is None and upload.source is not None)
                ):
                    # A Traefik workload's files are judged where Traefik reads them (below);
                    # a workload that may be Traefik (image unknown) cannot be told apart.
                    if traefik is not False and traefik is not True:
                        why = "uploaded file of a workload that may run Traefik" + (
                            " (read from the operator's machine, not visible to the pack)"
                            if content is None
                            else ""
                        )
                        facts.unverifiable.append(Unverifiable(w.resource, upload.field, why))
                    continue
                if not isinstance(content, str):
                    continue
                path = upload.path if isinstance(upload.path, str) else ""
                facts._add_dynamic(Source(w.resource, upload.field, "file", path), content, path, seen)
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
        for r in model.of_type(SERVICE_CONFIG, DOCKER_SECRET):
            data = r.props.get("data")
            if is_unknown(data) or not isinstance(data, str):
                continue
            try:
                content = base64.b64decode(data, validate=False).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                continue
            facts._add_dynamic(Source(r, "data", "swarm config"), content, "", seen)
        facts._add_command_files(model, seen)
        if facts.traefik_workloads:
            placement = Placement(model)
            for w in facts.traefik_workloads:
                facts._static_for(w, placement.view(w), seen)
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

    def _add_command_files(self, model: StackModel, seen: set[tuple[str, str]]) -> None:
        """Configuration a host Command writes from its stdin, wherever it lands (recognised by
        content; where it lands is judged per Traefik workload in `_static_for`)."""
        for cmd in model.of_type(*COMMANDS):
            stdin = cmd.props.get("stdin")
            if isinstance(stdin, str) and any(ch in stdin for ch in ":=[{"):
                path = written_config_path(cmd.props.get("create"))
                self._add_dynamic(Source(cmd, "stdin", "file written by a command", path), stdin, path, seen)

    def _add_dynamic(self, src: Source, content: str, path: str, seen: set[tuple[str, str]]) -> bool:
        """Adds the dynamic part of a configuration text (once per resource and content)."""
        key = (src.resource.urn, content)
        if key in seen or "{{" in content:
            return True  # templates are judged where Traefik reads them
        tree = parse_config_text(content, path)
        if tree is None:
            return False
        if classify(tree) in ("dynamic", "both"):
            seen.add(key)
            self.dynamics.append((src, tree))
        return True

    # --- the static configuration Traefik loads, and the files its file provider reads ---------

    def _unseen(self, resource: Resource, fieldname: str, why: str) -> None:
        self.unverifiable.append(Unverifiable(resource, fieldname, why, unseen=True))

    def _static_for(self, w: Workload, view: ContainerView, seen: set[tuple[str, str]]) -> None:
        args = traefik_arguments(w.argv)
        if args is None:
            if any(is_unknown(a) or not isinstance(a, str) for a in w.argv):
                self.unverifiable.append(
                    Unverifiable(w.resource, w.argv_field, "command of a Traefik workload")
                )
            else:
                self._unseen(
                    w.resource,
                    w.argv_field,
                    "how this command starts Traefik (not `traefik [flags]`), hence its static configuration",
                )
            self.statics.append(StaticConfig(w, []))
            return
        env = w.env
        workdir = working_dir(w)
        flags = flag_pairs(args)
        flag_src = Source(w.resource, w.argv_field, "flags")
        env_src = Source(w.resource, w.env_field, "environment")
        has_env = is_unknown(env) or bool(env_tree(env or {}))
        static: StaticConfig | None = None
        for raw in config_file_candidates(config_file_flag(flags)):
            expanded = expand_env(raw, env, default_home(w))
            if expanded is None:
                self.unverifiable.append(
                    Unverifiable(
                        w.resource,
                        w.env_field,
                        f"the environment, which decides where Traefik looks for {raw}",
                    )
                )
                self.statics.append(StaticConfig(w, []))
                return
            if not expanded.strip():
                continue
            path = absolute(expanded, workdir)
            state, item = view.lookup(path)
            if state == "absent":
                continue
            if isinstance(item, OpaqueRegion):
                self._unseen(
                    item.origin.resource,
                    item.origin.field,
                    f"whether {path} exists and what it says ({item.origin.how}): Traefik on "
                    f"{w.label} loads its static configuration from the first file of its search path",
                )
                self.statics.append(StaticConfig(w, []))
                return
            assert isinstance(item, ContainerFile)
            tree = self._file_tree(w, item, "the static configuration file")
            ignored = ([flag_src] if [k for k, _ in flags if k.lower() != "configfile"] else []) + (
                [env_src] if has_env else []
            )
            static = StaticConfig(
                w,
                [(Source(item.origin.resource, item.origin.field, "file", path), tree)] if tree else [],
                f"file {path}",
                ignored,
            )
            break
        if static is None:
            if args:
                tree = flags_tree(args)
                static = StaticConfig(
                    w, [(flag_src, tree)] if tree else [], "flags", [env_src] if has_env else []
                )
            elif is_unknown(env):
                self.unverifiable.append(
                    Unverifiable(w.resource, w.env_field, "environment of a Traefik workload")
                )
                static = StaticConfig(w, [])
            else:
                tree = env_tree(env or {})
                static = StaticConfig(
                    w, [(env_src, tree)] if tree else [], "environment" if tree else "defaults"
                )
        self.statics.append(static)
        self._providers(w, static, view, workdir, seen)

    def _file_tree(self, w: Workload, item: ContainerFile, role: str) -> dict[str, Any] | None:
        origin = item.origin
        if item.content is None:
            self._unseen(
                origin.resource,
                origin.field,
                f"{item.path}, {role} of {w.label} (read from the operator's machine)",
            )
            return None
        if is_unknown(item.content):
            self.unverifiable.append(
                Unverifiable(
                    origin.resource, origin.field, f"{item.path}, {role} of {w.label} ({origin.how})"
                )
            )
            return None
        content = str(item.content)
        if "{{" in content:
            self._unseen(
                origin.resource,
                origin.field,
                f"{item.path}, {role} of {w.label}: a Go template, which Traefik expands only when it reads it",
            )
            return None
        tree = parse_config_text(content, item.path)
        if tree is None:
            self._unseen(
                origin.resource, origin.field, f"{item.path}, {role} of {w.label}: it does not parse"
            )
        return tree

    def _providers(
        self, w: Workload, static: StaticConfig, view: ContainerView, workdir: str, seen: set[tuple[str, str]]
    ) -> None:
        if not static.parts:
            return
        src, tree = static.parts[0]
        providers = tree.get("providers")
        if providers is None:
            return
        if not isinstance(providers, dict):
            self._unseen(src.resource, src.field, "its providers setting")
            return
        for name, conf in providers.items():
            if name in PROVIDER_SETTINGS or (not isinstance(conf, dict) and not enabled(conf)):
                continue
            self.providers.append(Provider(w, name, conf, src))
            if name == "file":
                self._file_provider(w, conf if isinstance(conf, dict) else {}, src, view, workdir, seen)

    def _file_provider(
        self,
        w: Workload,
        conf: dict[str, Any],
        src: Source,
        view: ContainerView,
        workdir: str,
        seen: set[tuple[str, str]],
    ) -> None:
        directory, filename = get(conf, "directory"), get(conf, "filename")
        role = "a dynamic configuration file its file provider reads"
        if isinstance(directory, str) and directory:
            root = absolute(directory, workdir)
            files, regions = view.under(root)
            for region in regions:
                self._unseen(
                    region.origin.resource,
                    region.origin.field,
                    f"what is below {root}, the directory the file provider of {w.label} reads ({region.origin.how})",
                )
            for f in files:
                if f.path.lower().endswith(PROVIDER_FILE_EXTENSIONS):
                    self._provider_file(w, f, role, seen)
            return
        if isinstance(filename, str) and filename:
            state, item = view.lookup(absolute(filename, workdir))
            if isinstance(item, OpaqueRegion):
                self._unseen(
                    item.origin.resource,
                    item.origin.field,
                    f"{filename}, the file the file provider of {w.label} reads ({item.origin.how})",
                )
            elif isinstance(item, ContainerFile):
                self._provider_file(w, item, role, seen)
            return
        if directory is not None or filename is not None:
            self._unseen(src.resource, src.field, "the file provider's directory or filename")

    def _provider_file(self, w: Workload, f: ContainerFile, role: str, seen: set[tuple[str, str]]) -> None:
        tree = self._file_tree(w, f, role)
        if tree is None:
            return
        key = (f.origin.resource.urn, str(f.content))
        if key not in seen:
            seen.add(key)
            self.dynamics.append((Source(f.origin.resource, f.origin.field, "file", f.path), tree))

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


def traefik_arguments(argv: list[Any]) -> list[str] | None:
    """The arguments Traefik's command line parser gets, or None when the command does not
    provably start Traefik. An empty command is the image's default (`traefik`); a first
    argument that is a flag gets `traefik` prepended by the image's entrypoint script."""
    if any(not isinstance(a, str) for a in argv):
        return None
    words = [str(a) for a in argv]
    if not words:
        return []
    head = words[0].rsplit("/", 1)[-1]
    if head in ("entrypoint.sh", "docker-entrypoint.sh"):
        words = words[1:]
        if not words:
            return []
        head = words[0].rsplit("/", 1)[-1]
    if head == "traefik":
        args = words[1:]
    elif words[0].startswith("-"):
        args = words
    else:
        return None
    if args and args[0] == "traefik":
        args = args[1:]
    return args


def flag_pairs(args: list[str]) -> list[tuple[str, str]]:
    """paerser's flag parsing: (name as spelled, value) until the first non-flag or `--`."""
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(args):
        word = args[i]
        if len(word) < 2 or word[0] != "-" or word == "--":
            break
        name = word[2:] if word.startswith("--") else word[1:]
        i += 1
        key, eq, value = name.partition("=")
        if not eq:
            if key.lower().rsplit(".", 1)[-1] in BOOLEAN_FLAGS or i >= len(args):
                value = "true"
            else:
                value = args[i]
                i += 1
        pairs.append((key, value))
    return pairs


def config_file_flag(pairs: list[tuple[str, str]]) -> str:
    """The configuration file named on the command line. Traefik's file loader looks the flag up
    as `configFile` or `configfile` only, under the spelling of its first occurrence; the value
    is the last one given."""
    spelling = next((k for k, _ in pairs if k.lower() == "configfile"), None)
    if spelling not in ("configFile", "configfile"):
        return ""
    return next(v for k, v in reversed(pairs) if k.lower() == "configfile")


def config_file_candidates(flag: str) -> list[str]:
    paths = [flag] if flag.strip() else []
    return paths + [f"{base}.{ext}" for base in DEFAULT_CONFIG_BASES for ext in DEFAULT_CONFIG_EXTENSIONS]


_ENV_REFERENCE = re.compile(r"\$(?:\{([^}]*)\}|([A-Za-z0-9_]+))")


def expand_env(path: str, env: Any, home: str) -> str | None:
    """os.ExpandEnv with the container's environment (HOME defaulting as Docker sets it);
    None when the environment is unknown and the path needs it."""
    if "$" not in path:
        return path
    if is_unknown(env):
        return None
    variables = {k: v for k, v in (env or {}).items() if isinstance(k, str)}
    variables.setdefault("HOME", home)

    def sub(m: re.Match[str]) -> str:
        value = variables.get(m.group(1) or m.group(2) or "", "")
        return value if isinstance(value, str) else "\x00"

    out = _ENV_REFERENCE.sub(sub, path)
    return None if "\x00" in out else out


def working_dir(w: Workload) -> str:
    p = w.resource.props
    value = p.get("workingDir") if w.kind == "container" else get(p.get("taskSpec"), "containerSpec", "dir")
    return value if isinstance(value, str) and value.startswith("/") else "/"


def default_home(w: Workload) -> str:
    """HOME as Docker sets it: /root for root; `/` for a user the image's passwd does not list."""
    p = w.resource.props
    user = p.get("user") if w.kind == "container" else get(p.get("taskSpec"), "containerSpec", "user")
    if user is None or (isinstance(user, str) and user.split(":", 1)[0] in ("", "0", "root")):
        return "/root"
    return "/"


def absolute(path: str, workdir: str) -> str:
    import posixpath

    joined = path if path.startswith("/") else posixpath.join(workdir, path)
    return posixpath.normpath(joined)


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
    """Traefik static configuration from command-line flags (paerser's parsing, `flag_pairs`)."""
    tree: dict[str, Any] = {}
    for key, value in flag_pairs([a for a in argv if isinstance(a, str)]):
        set_path(tree, key.lower().split("."), value)
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


def is_https_redirect_router(facts: TraefikFacts, router_conf: dict[str, Any]) -> bool:
    """A router whose middlewares redirect to https (the only thing a plain entrypoint may do)."""
    mws = facts.middlewares()
    for ref in as_names(router_conf.get("middlewares")):
        conf = mws.get(strip_provider(ref), ({}, None))[0]
        redirect = get(conf, "redirectscheme")
        if isinstance(redirect, dict) and str(get(redirect, "scheme") or "").lower() == "https":
            return True
    return False
