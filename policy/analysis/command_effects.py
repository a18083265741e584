"""What the programs of a Command do to the host, as far as the readers can prove it.

Both readers work together: the bash grammar (bash_grammar.py) says which code runs at all
(functions never called are hidden) and whether the program parses; the word reader
(shell_reading/) expands the words of every command that runs, unwrapping `sudo bash -c '...'`
and `trap` code.
From those commands this module extracts, per program field:
- path operations: mount (and bind/move), unmount, symlink creation, with their targets;
- side channels: docker/podman/nerdctl CLI calls and compose files brought up, socat and
  netcat listeners, NAT rules (iptables -t nat ... DNAT/REDIRECT, nft ... dnat);
- constructs the reader cannot prove: a parse error, eval/source, a command whose name is
  not known, a shell reading its program from stdin or a file, xargs/find -exec, inline code of
  another interpreter. A rule that cares about what a program may do treats these as unknown.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import bash_grammar
from .bash_grammar import Construct
from .shell_reading.expansion import SimpleCommand, Word, parse_program
from .shell_reading.wrappers import SHELLS, shell_c_program, strip_wrappers
from .stack import Resource
from .values import is_unknown

PROGRAM_FIELDS = ("create", "update")
MOUNT_TOOLS = frozenset({"mount", "systemd-mount", "bindfs", "mergerfs", "fuse-overlayfs"})
UNMOUNT_TOOLS = frozenset({"umount", "fusermount", "fusermount3", "systemd-umount"})
LINK_TOOLS = frozenset({"ln"})
PATH_TOOLS = MOUNT_TOOLS | UNMOUNT_TOOLS | LINK_TOOLS
CONTAINER_CLIS = frozenset({"docker", "podman", "nerdctl"})
INTERPRETERS = {
    "python": ("-c",),
    "python3": ("-c",),
    "perl": ("-e", "-E"),
    "ruby": ("-e",),
    "node": ("-e", "--eval", "-p"),
    "php": ("-r",),
    "awk": (),  # awk programs cannot mount or run docker without system(): judged below
}
# Commands the rules read by name: a function of the same name (or a PATH the program changes)
# would make the name run something else.
READ_BY_NAME = frozenset(
    {
        "mount",
        "umount",
        "ln",
        "cryptsetup",
        "clevis",
        "docker",
        "podman",
        "nerdctl",
        "docker-compose",
        "socat",
        "iptables",
        "ip6tables",
        "nft",
        "nc",
        "ncat",
        "sudo",
        "env",
        "bash",
        "sh",
        "printf",
        "echo",
        "cat",
    }
)
# Environment variables that run code or change which program a name runs.
CODE_VARIABLES = frozenset(
    {
        "BASH_ENV",
        "ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "LD_PRELOAD",
        "LD_AUDIT",
        "LD_LIBRARY_PATH",
        "PATH",
        "IFS",
        "CDPATH",
        "GLOBIGNORE",
    }
)
PROGRAM_VARIABLES = frozenset({"PATH", "LD_PRELOAD", "LD_AUDIT", "LD_LIBRARY_PATH", "BASH_ENV", "ENV"})
LOOKUPS = {"command": ("-v", "-V"), "type": (), "which": (), "hash": ()}
MOUNT_VALUE_OPTIONS = frozenset(
    {"-t", "--types", "-o", "--options", "-O", "--test-opts", "-L", "--label", "-U", "--uuid", "-N"}
)
# Docker CLI options that take a value before the subcommand.
DOCKER_GLOBAL_VALUE_OPTIONS = frozenset(
    {
        "-H",
        "--host",
        "-c",
        "--context",
        "--config",
        "-l",
        "--log-level",
        "--tlscacert",
        "--tlscert",
        "--tlskey",
    }
)
# What a subcommand does the pack cannot see: creates or starts workloads, volumes, networks.
DOCKER_EFFECTS = {
    "run": "runs a container",
    "create": "creates a container",
    "start": "starts a container",
    "restart": "restarts a container",
    "exec": "runs a program inside a container",
    "cp": "copies files into or out of a container",
    "commit": "turns a container into an image",
    "compose": "brings up a compose project",
    "stack": "deploys a Swarm stack",
    "service": "creates or changes a Swarm service",
    "swarm": "changes the Swarm",
    "plugin": "installs or enables an engine plugin",
    "volume": "creates or removes volumes",
    "network": "creates or connects networks",
    "system": "prunes the engine (volumes included)",
    "update": "changes a container",
}
# Subcommands of management commands that only read.
DOCKER_READ_ONLY = frozenset({"ls", "list", "ps", "inspect", "logs", "config", "version", "top", "images"})
# `docker update` that only tightens limits (the project sets PID limits this way).
DOCKER_UPDATE_LIMITS = frozenset(
    {"--pids-limit", "--memory", "-m", "--memory-swap", "--memory-reservation", "--cpus", "--cpu-shares"}
)
NAT_TARGETS = frozenset({"DNAT", "REDIRECT", "NETMAP", "TPROXY"})
IPTABLES = frozenset(
    {"iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy", "iptables-nft", "ip6tables-nft"}
)


@dataclass(frozen=True)
class PathOp:
    tool: str
    kind: str  # "mount" | "bind" | "unmount" | "symlink" | "mount-all" | "unmount-all"
    source: Word | None
    target: Word | None
    text: str
    field: str


@dataclass(frozen=True)
class SideChannel:
    subject: str  # "docker:run", "socat", "nat:DNAT", ...
    what: str
    text: str
    field: str


@dataclass(frozen=True)
class PidsLimit:
    """`docker update --pids-limit N <container>...`: the PID limit a container gets after creation."""

    limit: Word
    containers: tuple[Word, ...]
    field: str


@dataclass(frozen=True)
class ProgramEffects:
    field: str
    unknown: tuple[Construct, ...]
    path_ops: tuple[PathOp, ...]
    side_channels: tuple[SideChannel, ...]
    commands: tuple[SimpleCommand, ...]  # every command that runs (nested programs included)
    pids_limits: tuple[PidsLimit, ...] = ()


@dataclass(frozen=True)
class CommandEffects:
    resource: Resource
    unknown_fields: tuple[str, ...]  # program fields unknown at preview
    programs: tuple[ProgramEffects, ...]


def _text(cmd: SimpleCommand) -> str:
    text = " ".join(w if w.resolved else w.raw for w in cmd.argv)
    return text if len(text) <= 100 else text[:97] + "..."


def _name(word: Word) -> str:
    return word.rsplit("/", 1)[-1]


def _function_outputs(program_text: str) -> dict[str, frozenset[str]]:
    """Functions whose body only prints literal words (`if ...; then printf 'a'; else printf 'b';
    fi`): name -> the words they can print. Lets `tool=$(pick_tool); "$tool" ...` be judged as
    each of those programs."""
    out: dict[str, frozenset[str]] = {}
    for m in re.finditer(r"(?m)^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\)\s*\{(.*)\}\s*$", program_text):
        body = m.group(2)
        words: set[str] = set()
        ok = True
        for part in re.split(r";|\bthen\b|\belse\b|\bfi\b|\bif\b", body):
            part = part.strip()
            if not part or part.startswith("["):
                continue
            pm = re.fullmatch(r"(printf|echo)\s+(?:--\s+)?'([A-Za-z0-9_./-]+)'", part)
            if pm is None:
                ok = False
                break
            words.add(pm.group(2))
        if ok and words:
            out[m.group(1)] = frozenset(words)
    return out


def _wrappers(program_text: str) -> dict[str, str]:
    """One-line functions that run one command with their own arguments appended
    (`sw_docker() { docker -H "$HOST" "$@"; }`): name -> the command in front of "$@"."""
    out: dict[str, str] = {}
    for m in re.finditer(
        r'(?m)^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\)\s*\{\s*([^;{}|&]+?)\s+"\$@"\s*;?\s*\}\s*$', program_text
    ):
        out[m.group(1)] = m.group(2)
    return out


def _candidates(
    cmd: SimpleCommand, outputs: dict[str, frozenset[str]], assigned: dict[str, set[str]]
) -> set[str] | None:
    """The programs a command with an unresolved name can be, or None when unknown."""
    raw = cmd.argv[0].raw.strip('"')
    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", raw)
    if m is None:
        return None
    values = assigned.get(m.group(1))
    if not values:
        return None
    names: set[str] = set()
    for value in values:
        fm = re.fullmatch(r"\$\(\s*([A-Za-z_][A-Za-z0-9_]*)(\s+[^)]*)?\)", value.strip('"'))
        if fm is None or fm.group(1) not in outputs:
            return None
        names |= outputs[fm.group(1)]
    return names


def _assignments(commands: list[SimpleCommand]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for c in commands:
        if not c.argv:
            for name, value in c.assignments:
                out.setdefault(name, set()).add(value.raw)
    return out


def _mount_op(tool: str, argv: list[Word], field: str, text: str) -> PathOp | None:
    kind = "mount"
    source: Word | None = None
    target: Word | None = None
    positional: list[Word] = []
    all_of_fstab = False
    i = 1
    while i < len(argv):
        w = argv[i]
        if w in ("--bind", "-B", "--rbind", "-R", "--move", "-M"):
            kind = "bind"
        elif w in ("-a", "--all"):
            all_of_fstab = True
        elif w in ("-o", "--options") and i + 1 < len(argv):
            opts = argv[i + 1]
            if not opts.resolved or {"bind", "rbind", "move"} & {o.strip() for o in opts.split(",")}:
                kind = "bind"
            i += 1
        elif w.startswith("-o") and len(w) > 2:
            if not w.resolved or {"bind", "rbind"} & {o.strip() for o in w[2:].split(",")}:
                kind = "bind"
        elif w == "--source" and i + 1 < len(argv):
            source = argv[i + 1]
            i += 1
        elif w == "--target" and i + 1 < len(argv):
            target = argv[i + 1]
            i += 1
        elif w in MOUNT_VALUE_OPTIONS and i + 1 < len(argv):
            i += 1
        elif w.startswith("-") and len(w) > 1 and w.resolved:
            pass
        else:
            positional.append(w)
        i += 1
    if tool != "mount":
        kind = "bind" if tool in ("bindfs", "mergerfs", "fuse-overlayfs") else kind
    if all_of_fstab:
        return PathOp(tool, "mount-all", None, None, text, field)
    if source is None and target is None and len(positional) == 1:
        return PathOp(tool, kind, None, positional[0], text, field)  # fstab decides the source
    if source is None and positional:
        source = positional.pop(0)
    if target is None and positional:
        target = positional.pop(-1)
    if target is None:
        return None if source is None else PathOp(tool, kind, None, source, text, field)
    return PathOp(tool, kind, source, target, text, field)


def _unmount_ops(tool: str, argv: list[Word], field: str, text: str) -> list[PathOp]:
    targets = [w for w in argv[1:] if not (w.startswith("-") and w.resolved)]
    if any(w in ("-a", "--all") for w in argv[1:]):
        return [PathOp(tool, "unmount-all", None, None, text, field)]
    return [PathOp(tool, "unmount", None, t, text, field) for t in targets]


def _link_op(argv: list[Word], field: str, text: str) -> PathOp | None:
    positional: list[Word] = []
    directory: Word | None = None
    i = 1
    while i < len(argv):
        w = argv[i]
        if w in ("-t", "--target-directory") and i + 1 < len(argv):
            directory = argv[i + 1]
            i += 1
        elif w.startswith("--target-directory="):
            directory = Word(w.split("=", 1)[1], w.resolved, w.raw)
        elif w.startswith("-") and len(w) > 1 and w.resolved:
            pass
        else:
            positional.append(w)
        i += 1
    if directory is not None:
        return PathOp("ln", "symlink", positional[0] if positional else None, directory, text, field)
    if len(positional) >= 2:
        return PathOp("ln", "symlink", positional[0], positional[-1], text, field)
    # one operand: the link lands in the working directory, which the reader does not know
    return PathOp("ln", "symlink", positional[0] if positional else None, Word("", False, "."), text, field)


def _docker(argv: list[Word], field: str, text: str) -> SideChannel | None:
    tool = _name(argv[0])
    words = list(argv[1:])
    if tool in ("docker-compose", "podman-compose"):
        words = [Word("compose"), *words]
    i = 0
    while i < len(words) and words[i].startswith("-"):
        if words[i] in DOCKER_GLOBAL_VALUE_OPTIONS:
            i += 1
        i += 1
    if i >= len(words):
        return None
    sub = words[i]
    if sub.raw.strip('"') in ("$@", "${@}"):
        return None  # a wrapper function's body: its call sites are read with their arguments
    if not sub.resolved:
        return SideChannel(f"{tool}:unknown", "runs a subcommand the pack cannot resolve", text, field)
    rest = words[i + 1 :]
    if sub in ("container", "image", "builder"):
        if not rest:
            return None
        sub, rest = rest[0], rest[1:]
    verb = next((w for w in rest if not w.startswith("-")), Word(""))
    if sub == "update":
        flags = {w.split("=", 1)[0] for w in rest if w.startswith("-")}
        if flags and flags <= DOCKER_UPDATE_LIMITS:
            return None  # only tightens resource limits
    if sub in ("volume", "network", "service", "stack", "swarm", "plugin", "compose", "system"):
        if verb in DOCKER_READ_ONLY or (sub == "system" and verb in ("df", "info", "events")):
            return None
        if sub == "volume" and verb == "":
            return None
    if sub not in DOCKER_EFFECTS:
        return None
    what = DOCKER_EFFECTS[sub]
    subject = f"docker:{sub}" + (
        f":{verb}" if verb and sub in ("volume", "network", "service", "compose") else ""
    )
    return SideChannel(subject, f"`{tool} {sub}` {what}", text, field)


def _pids_limit(argv: list[Word], field: str) -> PidsLimit | None:
    words = list(argv[1:])
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in DOCKER_GLOBAL_VALUE_OPTIONS else 1
    if i < len(words) and words[i] == "container":
        i += 1
    if i >= len(words) or words[i] != "update":
        return None
    limit: Word | None = None
    names: list[Word] = []
    rest = words[i + 1 :]
    j = 0
    while j < len(rest):
        w = rest[j]
        if w == "--pids-limit" and j + 1 < len(rest):
            limit = rest[j + 1]
            j += 2
            continue
        if w.startswith("--pids-limit="):
            limit = Word(w.split("=", 1)[1], w.resolved, w.raw)
        elif w.startswith("-"):
            if "=" not in w and w in DOCKER_UPDATE_LIMITS | {"--restart", "--cpuset-cpus", "--kernel-memory"}:
                j += 1  # its value
        else:
            names.append(w)
        j += 1
    return PidsLimit(limit, tuple(names), field) if limit is not None else None


def _nat(argv: list[Word], field: str, text: str) -> SideChannel | None:
    tool = _name(argv[0])
    words = [str(w) for w in argv[1:]]
    if tool in IPTABLES:
        table = "filter"
        target = ""
        for i, w in enumerate(words):
            if w in ("-t", "--table") and i + 1 < len(words):
                table = words[i + 1]
            elif w.startswith("--table="):
                table = w.split("=", 1)[1]
            elif w.startswith("-t") and len(w) > 2 and not w.startswith("--"):
                table = w[2:]
            elif w in ("-j", "--jump") and i + 1 < len(words):
                target = words[i + 1]
        if table == "nat" and (target in NAT_TARGETS or not target):
            return SideChannel(
                f"nat:{target or 'nat'}", "adds a NAT rule (an exposure the pack cannot see)", text, field
            )
        return None
    if tool == "nft":
        joined = " ".join(words).lower()
        if re.search(r"\b(dnat|redirect|tproxy)\b", joined):
            return SideChannel(
                "nat:nft", "adds an nftables NAT rule (an exposure the pack cannot see)", text, field
            )
    return None


def _listener(argv: list[Word], field: str, text: str) -> SideChannel | None:
    tool = _name(argv[0])
    if tool == "socat":
        return SideChannel(
            "socat", "relays traffic with socat (a listener or tunnel the pack cannot see)", text, field
        )
    if tool in ("nc", "ncat", "netcat") and any(
        w in ("-l", "--listen") or (w.startswith("-") and "l" in w[1:] and not w.startswith("--"))
        for w in argv[1:]
    ):
        return SideChannel(
            "netcat:listen", "listens with netcat (an exposure the pack cannot see)", text, field
        )
    return None


def _unknown_of(
    cmd: SimpleCommand, argv: list[Word], candidates: set[str] | None, line_hint: int
) -> Construct | None:
    name = _name(argv[0])
    text = _text(cmd)
    if not argv[0].resolved:
        raw = argv[0].raw.strip('"')
        if raw in ("$@", "${@}", "$*"):
            return None  # a wrapper function's own arguments: the call sites are read
        if candidates is not None:
            return None
        return Construct(line_hint, text, "runs a program whose name the reader cannot resolve")
    if name in ("eval", "source", "."):
        return Construct(line_hint, text, f"`{name}` runs code the reader cannot see")
    if name in ("xargs", "parallel"):
        return Construct(line_hint, text, f"`{name}` runs commands built at run time")
    if name == "find" and any(w in ("-exec", "-execdir", "-ok", "-okdir") for w in argv):
        return Construct(line_hint, text, "`find -exec` runs commands built at run time")
    if name in SHELLS:
        program = shell_c_program(argv)
        c_index = next(
            (
                i
                for i, w in enumerate(argv[1:], 1)
                if w == "-c" or (w.startswith("-") and not w.startswith("--") and "c" in w[1:])
            ),
            None,
        )
        if c_index is None:
            return Construct(
                line_hint, text, f"`{name}` reads its program from stdin or a file the pack cannot see"
            )
        if program is None or not argv[c_index + 1].resolved:
            return Construct(line_hint, text, f"`{name} -c` runs a program the reader cannot resolve")
        return None
    flags = INTERPRETERS.get(name)
    if flags and any(w in flags for w in argv[1:]):
        return Construct(line_hint, text, f"`{name}` runs inline code the reader cannot judge")
    if name == "awk" and "system(" in " ".join(argv[1:]):
        return Construct(line_hint, text, "awk's system() runs commands the reader cannot judge")
    return None


def _is_lookup(argv: list[Word]) -> bool:
    name = _name(argv[0])
    if name not in LOOKUPS:
        return False
    flags = LOOKUPS[name]
    return not flags or (len(argv) > 1 and argv[1] in flags)


@lru_cache(maxsize=4096)
def program_effects(text: str, field: str) -> ProgramEffects:
    unknown: list[Construct] = []
    path_ops: list[PathOp] = []
    channels: list[SideChannel] = []
    limits: list[PidsLimit] = []
    ran: list[SimpleCommand] = []
    pending: list[tuple[str, int]] = [(text, 0)]
    while pending:
        program_text, depth = pending.pop()
        shape = bash_grammar.structure(program_text)
        unknown.extend(shape.errors)
        if not shape.parsed:
            continue
        # The grammar says which commands run; the word reader expands each with what the whole
        # program proves about its variables (nested `bash -c` programs are read below).
        for shadow in sorted(shape.functions & READ_BY_NAME):
            unknown.append(
                Construct(0, f"{shadow}() {{ ... }}", f"a function named `{shadow}` replaces the command")
            )
        program = parse_program(shape.reachable_text, depth=4, resolve_locals=True)
        for c in program.commands:
            # `IFS= read -r KEY` only changes IFS for that read; PATH or a preload in front of a
            # command changes which program runs.
            scope = CODE_VARIABLES if not c.argv else PROGRAM_VARIABLES
            changed = [name for name, _ in c.assignments if name in scope]
            if c.argv and c.argv[0] in ("export", "declare", "typeset", "readonly", "local"):
                changed += [w.split("=", 1)[0] for w in c.argv[1:] if w.split("=", 1)[0] in CODE_VARIABLES]
            for name in changed:
                unknown.append(Construct(0, f"{name}=...", f"setting {name} changes what later commands run"))
        outputs = _function_outputs(shape.reachable_text)
        assigned = _assignments(program.commands)
        wrappers = _wrappers(shape.reachable_text)
        spans = bash_grammar.command_texts(program_text)
        for line_no, cmd in ((line_no, c) for line_no, span in spans for c in program.expand_command(span)):
            if not cmd.argv or (len(cmd.argv) > 1 and cmd.argv[1] == "in"):
                continue  # assignments only, or the header of `case WORD in` / `for NAME in`
            if _is_lookup(cmd.argv):
                continue
            argv = strip_wrappers(cmd.argv)
            if not argv:
                continue
            name = _name(argv[0])
            if name in wrappers and argv[0].resolved:
                # a call of a wrapper function: judge the command it runs, with these arguments
                head = program.expand_command(wrappers[name])
                if head and head[0].argv:
                    argv = strip_wrappers([*head[0].argv, *argv[1:]])
                    name = _name(argv[0]) if argv else ""
                    if not argv:
                        continue
            if name == "trap" and len(argv) > 1 and argv[1].resolved and depth < 4:
                pending.append((str(argv[1]), depth + 1))
                continue
            candidates = _candidates(cmd, outputs, assigned) if not argv[0].resolved else None
            problem = _unknown_of(cmd, argv, candidates, line_no)
            if problem is not None:
                unknown.append(problem)
                continue
            ran.append(cmd)
            inner = shell_c_program(argv)
            if inner is not None:
                if depth < 4:
                    pending.append((inner, depth + 1))
                continue
            names = candidates if candidates is not None else {name}
            line = _text(cmd)
            for tool in names:
                call = [Word(tool), *argv[1:]] if candidates is not None else argv
                if tool in MOUNT_TOOLS:
                    op = _mount_op(tool, call, field, line)
                    if op is not None:
                        path_ops.append(op)
                elif tool in UNMOUNT_TOOLS:
                    path_ops.extend(_unmount_ops(tool, call, field, line))
                elif tool in LINK_TOOLS:
                    op = _link_op(call, field, line)
                    if op is not None:
                        path_ops.append(op)
                elif tool in CONTAINER_CLIS or tool in ("docker-compose", "podman-compose"):
                    ch = _docker(call, field, line)
                    if ch is not None:
                        channels.append(ch)
                    pids = _pids_limit(call, field)
                    if pids is not None:
                        limits.append(pids)
                else:
                    ch = _nat(call, field, line) or _listener(call, field, line)
                    if ch is not None:
                        channels.append(ch)
            for r in cmd.redirects:
                if r.heredoc and name == "nft" and re.search(r"\b(dnat|redirect)\b", r.heredoc, re.I):
                    channels.append(SideChannel("nat:nft", "loads an nftables NAT rule set", line, field))
    return ProgramEffects(field, tuple(unknown), tuple(path_ops), tuple(channels), tuple(ran), tuple(limits))


def environment_problems(resource: Resource) -> list[Construct]:
    """A Command's own settings that change how its program runs: a non-shell interpreter, or
    environment variables that run code or change which programs names resolve to."""
    out: list[Construct] = []
    interpreter = resource.props.get("interpreter")
    if is_unknown(interpreter):
        out.append(Construct(0, "interpreter", "is unknown at preview"))
    elif isinstance(interpreter, list) and interpreter:
        first = interpreter[0]
        if not isinstance(first, str) or first.rsplit("/", 1)[-1] not in SHELLS:
            out.append(
                Construct(
                    0, f"interpreter {interpreter}", "runs the program with something other than a shell"
                )
            )
    env = resource.props.get("environment")
    if isinstance(env, dict):
        for name in env:
            if name in CODE_VARIABLES or name.startswith("BASH_FUNC_"):
                out.append(
                    Construct(
                        0, f"environment[{name}]", f"{name} in the environment changes what the program runs"
                    )
                )
    return out


def effects_of(resource: Resource) -> CommandEffects:
    unknown_fields: list[str] = []
    programs: list[ProgramEffects] = []
    seen: set[str] = set()
    for field in PROGRAM_FIELDS:
        text: Any = resource.props.get(field)
        if is_unknown(text):
            unknown_fields.append(field)
            continue
        if not isinstance(text, str) or not text.strip() or text in seen:
            continue
        seen.add(text)
        programs.append(program_effects(text, field))
    return CommandEffects(resource, tuple(unknown_fields), tuple(programs))


def normalized(word: Word | None) -> str | None:
    """An absolute, normalised path for a resolved word; None otherwise."""
    if word is None or not word.resolved or not str(word).startswith("/"):
        return None
    return posixpath.normpath(str(word))


def related(path: str, mount_point: str) -> bool:
    """True when `path` is the mount point, inside it, or one of its parents (a mount or link
    there hides it)."""
    p, m = path.rstrip("/") or "/", mount_point.rstrip("/") or "/"
    return p == m or p.startswith(m + "/") or m.startswith(p + "/") or p == "/"
