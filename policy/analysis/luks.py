"""LUKS facts read from the Commands of a stack: which dm-crypt mappings a command opens (and
whether they are LUKS2), with what parameters it formats, where it mounts them, where the key
material comes from, and what clevis does with LUKS keys (`clevis luks bind` reads an existing
passphrase, `clevis luks pass` prints one: where its stdout goes is recorded).

Generic on purpose: a teammate's `cryptsetup open --type luks2 --key-file=- /dev/sdb data &&
mount /dev/mapper/data /srv/data` is read the same way as our rendered programs.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .clevis_cli import KEY_STDIN as CLEVIS_KEY_STDIN
from .clevis_cli import ClevisCall, Sink, find_clevis, stdout_sink
from .cryptsetup_cli import (
    KEY_STDIN,
    OPEN_ACTIONS,
    CryptsetupCall,
    MountCall,
    parse_cryptsetup,
    parse_mount,
    reads_key_on_stdin,
)
from .shell_reading.expansion import Program, SimpleCommand, Word, parse_program
from .shell_reading.wrappers import strip_wrappers
from .stack import COMMANDS, Resource
from .values import is_unknown

if TYPE_CHECKING:
    from .stack import StackModel

# Fields of a Command that hold a program. `create`/`update` provide mounts; all are checked
# for LUKS parameters and key handling.
PROGRAM_FIELDS = ("create", "update", "delete")
PROVIDING_FIELDS = ("create", "update")


@dataclass
class KeyLiteral:
    """Key material written into the program text (a literal piped, here-string'd or written to a
    key file that cryptsetup reads)."""

    where: str
    field: str
    length: int


@dataclass(frozen=True)
class KeyOutput:
    """Where a passphrase a program prints goes (`clevis luks pass`): `to_key_reader` when its
    stdout is piped straight into a cryptsetup or clevis call that reads its key on stdin."""

    call: ClevisCall
    sink: Sink
    to_key_reader: bool


@dataclass
class Mapping:
    name: str
    device: Word | None
    kind: str  # "luks2" (proven), "luks" (LUKS, version not proven), "luks1", "plain", ...
    command: Resource
    field: str
    open_call: CryptsetupCall


@dataclass
class CommandLuks:
    resource: Resource
    unknown_fields: list[str]
    calls: list[CryptsetupCall]
    mounts: list[MountCall]
    literals: list[KeyLiteral]
    mappings: list[Mapping]
    clevis: list[ClevisCall] = field(default_factory=list)
    key_outputs: list[KeyOutput] = field(default_factory=list)

    @property
    def is_luks_command(self) -> bool:
        return bool(self.calls or self.clevis)


@dataclass
class ProvidedMount:
    """A mount point whose filesystem sits on a LUKS mapping opened in this stack."""

    path: str
    mapping: Mapping
    mounted_by: Resource


@dataclass
class LuksFacts:
    commands: dict[str, CommandLuks]  # by URN
    provided: list[ProvidedMount]
    non_luks_mounts: list[tuple[str, str, Resource]] = field(default_factory=list)  # (path, why, command)

    @staticmethod
    def of(model: StackModel) -> LuksFacts:
        commands = {r.urn: analyze_command(r) for r in model.of_type(*COMMANDS)}
        by_name: dict[str, list[Mapping]] = {}
        for c in commands.values():
            for m in c.mappings:
                by_name.setdefault(m.name, []).append(m)
        provided: list[ProvidedMount] = []
        non_luks: list[tuple[str, str, Resource]] = []
        for c in commands.values():
            for mount in c.mounts:
                if not (mount.source.resolved and mount.target.resolved):
                    continue
                src = posixpath.normpath(str(mount.source))
                if not src.startswith("/dev/mapper/"):
                    continue
                name = src[len("/dev/mapper/") :]
                candidates = by_name.get(name, [])
                target = posixpath.normpath(str(mount.target))
                if not candidates:
                    non_luks.append(
                        (target, f"/dev/mapper/{name} is not opened by any command in this stack", c.resource)
                    )
                    continue
                kinds = {m.kind for m in candidates}
                if kinds <= {"luks2", "luks"}:
                    best = next((m for m in candidates if m.kind == "luks2"), candidates[0])
                    provided.append(ProvidedMount(target, best, c.resource))
                else:
                    bad = sorted(kinds - {"luks2", "luks"})
                    non_luks.append(
                        (target, f"/dev/mapper/{name} is opened as {', '.join(bad)}, not LUKS", c.resource)
                    )
        return LuksFacts(commands=commands, provided=provided, non_luks_mounts=non_luks)

    def provider_of(self, path: str) -> ProvidedMount | None:
        """The LUKS-backed mount point that `path` lies at or under (the deepest one)."""
        index = self.__dict__.get("_by_path")
        if index is None:
            index = {}
            for p in self.provided:
                index.setdefault(p.path, p)
            self.__dict__["_by_path"] = index
        current = posixpath.normpath(path)
        while True:
            if current in index:
                return index[current]
            parent = posixpath.dirname(current)
            if parent == current:
                return None
            current = parent


def _literal_producer(cmd: SimpleCommand | None) -> int:
    """Length of a literal that `cmd` (echo/printf/cat of a here-doc) writes, else 0."""
    if cmd is None:
        return 0
    argv = strip_wrappers(cmd.argv)
    if not argv:
        return 0
    name = argv[0].rsplit("/", 1)[-1]
    if name == "echo":
        args = [w for w in argv[1:] if w not in ("-n", "-e", "-ne", "-en", "-E")]
        if args and all(w.resolved for w in args) and "".join(args):
            return len(" ".join(args))
    if name == "printf":
        args = argv[1:]
        if args and all(w.resolved for w in args):
            text = "".join(str(a) for a in args).replace("%s", "").replace("\\n", "")
            if text.strip():
                return len(text)
    if name == "cat":
        for r in cmd.redirects:
            if r.op in ("<<", "<<-") and r.heredoc and "$" not in r.heredoc and r.heredoc.strip():
                return len(r.heredoc.strip())
            if r.op == "<<<" and r.target.resolved and str(r.target):
                return len(r.target)
    return 0


def _process_substitution_literal(word: Word) -> int:
    raw = word.raw.strip('"')
    if raw.startswith("<(") and raw.endswith(")"):
        inner = parse_program(raw[2:-1])
        return max((_literal_producer(c) for c in inner.all_commands()), default=0)
    return 0


def _fed_literals(
    where: str,
    cmd: SimpleCommand,
    prefix: list[Word],
    key_words: list[Word],
    fieldname: str,
    written: dict[str, int],
    reads_stdin: bool,
) -> list[KeyLiteral]:
    """Literals that reach a key-reading call: on its stdin (piped, here-string, here-document;
    only when the call reads its key there), as arguments of a wrapper function in front of it, or
    in a key file it reads (a process substitution, or a file the program wrote a literal to)."""
    out: list[KeyLiteral] = []
    if reads_stdin:
        n = _literal_producer(cmd.stdin_from)
        if n and cmd.stdin_from is not None:
            out.append(KeyLiteral(f"a literal piped from `{cmd.stdin_from.name}` into {where}", fieldname, n))
        for r in cmd.redirects:
            if r.op == "<<<" and r.target.resolved and str(r.target):
                out.append(KeyLiteral(f"a literal here-string fed to {where}", fieldname, len(r.target)))
            if r.op in ("<<", "<<-") and r.heredoc and r.heredoc.strip() and "$" not in r.heredoc:
                out.append(
                    KeyLiteral(f"a literal here-document fed to {where}", fieldname, len(r.heredoc.strip()))
                )
    # Arguments of a wrapper function in front of the call (such as `with_key 'secret' cryptsetup
    # ...`): the function's own name aside, a literal there is key material in the text.
    for w in prefix[1:]:
        if w.resolved and str(w) and not str(w).startswith("-") and not str(w).startswith("/"):
            out.append(
                KeyLiteral(f"a literal argument of `{prefix[0]}` in front of {where}", fieldname, len(w))
            )
    for kw in key_words:
        n = _process_substitution_literal(kw)
        if n:
            out.append(
                KeyLiteral(
                    f"a literal in the process substitution that {where} reads as a key file", fieldname, n
                )
            )
        elif kw.resolved and str(kw) in written:
            out.append(
                KeyLiteral(
                    f"a literal written to {kw} and used as key file by {where}", fieldname, written[str(kw)]
                )
            )
    return out


def _key_literals(call: CryptsetupCall, written: dict[str, int]) -> list[KeyLiteral]:
    key_words = [
        call.options.get("--key-file"),
        call.options.get("--new-keyfile"),
        call.options.get("--volume-key-file"),
    ]
    if call.action in ("luksAddKey", "luksChangeKey") and len(call.positional) >= 2:
        key_words.append(call.positional[1])
    return _fed_literals(
        f"cryptsetup {call.action}",
        call.command,
        call.prefix,
        [w for w in key_words if w is not None],
        call.field,
        written,
        reads_key_on_stdin(call),
    )


def _clevis_literals(call: ClevisCall, written: dict[str, int]) -> list[KeyLiteral]:
    if not call.reads_key:
        return []
    key_file = call.key_file
    # `-k -` reads stdin; without -k bind prompts on stdin, unless -e takes the existing
    # passphrase from a LUKS2 token
    if key_file is None:
        on_stdin = "e" not in call.options
    else:
        on_stdin = key_file.resolved and str(key_file) in CLEVIS_KEY_STDIN
    return _fed_literals(
        f"clevis luks {call.subcommand}",
        call.command,
        call.prefix,
        [key_file] if key_file is not None else [],
        call.field,
        written,
        on_stdin,
    )


def _reads_key_on_stdin(cmd: SimpleCommand, calls: list[CryptsetupCall], clevis: list[ClevisCall]) -> bool:
    """True when `cmd` is a cryptsetup call reading its key on stdin (`--key-file=-` or no key
    file: cryptsetup then reads the passphrase from stdin) or a clevis bind with `-k -`."""
    for call in calls:
        if call.command is cmd:
            key_file = call.options.get("--key-file")
            return reads_key_on_stdin(call) and (
                key_file is None or (key_file.resolved and str(key_file) in KEY_STDIN)
            )
    for cl in clevis:
        if cl.command is cmd:
            key_file = cl.key_file
            return (
                cl.reads_key
                and key_file is not None
                and key_file.resolved
                and str(key_file) in CLEVIS_KEY_STDIN
            )
    return False


@dataclass(frozen=True)
class _FieldFacts:
    calls: tuple[CryptsetupCall, ...]
    mounts: tuple[MountCall, ...]
    literals: tuple[KeyLiteral, ...]
    openings: tuple[tuple[str, Word | None, str, CryptsetupCall], ...]  # (name, device, kind, call)
    clevis: tuple[ClevisCall, ...] = ()
    key_outputs: tuple[KeyOutput, ...] = ()


@lru_cache(maxsize=32)
def _parsed(text: str) -> Program:
    """A Command's create and update are often the same program: parse it once."""
    return parse_program(text)


@lru_cache(maxsize=4096)
def _field_facts(text: str, fieldname: str) -> _FieldFacts:
    """What one program says (cached: Analyze and AnalyzeStack read the same programs)."""
    program: Program = _parsed(text)
    cmds = program.all_commands()
    # files that a literal is written to (echo secret > /run/key)
    written: dict[str, int] = {}
    for c in cmds:
        n = _literal_producer(c)
        if n:
            for r in c.redirects:
                if r.op in (">", ">>", ">|") and r.target.resolved:
                    written[str(r.target)] = n
    mounts: list[MountCall] = []
    calls: list[CryptsetupCall] = []
    clevis: list[ClevisCall] = []
    for c in cmds:
        argv = strip_wrappers(c.argv)
        if not argv:
            continue
        clevis_call = find_clevis(argv, c, fieldname)
        if clevis_call is not None:
            clevis.append(clevis_call)
            continue
        if argv[0].rsplit("/", 1)[-1] == "mount" and fieldname in PROVIDING_FIELDS:
            m = parse_mount(argv, fieldname)
            if m is not None:
                mounts.append(m)
            continue
        for idx, w in enumerate(argv):
            if w.rsplit("/", 1)[-1] == "cryptsetup" and (
                idx == 0 or argv[0] not in ("command", "type", "which")
            ):
                call = parse_cryptsetup(argv, idx, c, fieldname)
                if call is not None:
                    calls.append(call)
                break
    formatted: dict[str, CryptsetupCall] = {}
    literals: list[KeyLiteral] = []
    for call in calls:
        if call.action == "luksFormat" and call.positional:
            formatted[str(call.positional[0])] = call
        literals.extend(_key_literals(call, written))
    for cl in clevis:
        literals.extend(_clevis_literals(cl, written))
    key_outputs: list[KeyOutput] = []
    for cl in clevis:
        if cl.prints_key:
            sink = stdout_sink(cl.command, cmds)
            consumer = sink.consumer if sink.kind == "pipe" else None
            to_reader = consumer is not None and _reads_key_on_stdin(consumer, calls, clevis)
            key_outputs.append(KeyOutput(cl, sink, to_reader))
    openings: list[tuple[str, Word | None, str, CryptsetupCall]] = []
    for call in calls:
        if call.action not in OPEN_ACTIONS or "--test-passphrase" in call.flags:
            continue
        if call.action == "create":  # legacy plain syntax: create <name> <device>
            name = call.positional[0] if call.positional else None
            device = call.positional[1] if len(call.positional) > 1 else None
        else:
            device = call.positional[0] if call.positional else None
            name = call.positional[1] if len(call.positional) > 1 else None
        if name is None or not name.resolved or fieldname not in PROVIDING_FIELDS:
            continue
        declared = call.options.get("--type") or OPEN_ACTIONS[call.action] or "luks"
        kind = str(declared) if getattr(declared, "resolved", True) else "unknown"
        if kind == "luks":
            fmt = formatted.get(str(device)) if device is not None else None
            fmt_type = fmt.options.get("--type") if fmt is not None else None
            if fmt_type is not None and fmt_type.resolved and str(fmt_type) in ("luks2", "luks1"):
                kind = str(fmt_type)
        openings.append((str(name), device, kind, call))
    return _FieldFacts(
        tuple(calls), tuple(mounts), tuple(literals), tuple(openings), tuple(clevis), tuple(key_outputs)
    )


def analyze_command(resource: Resource) -> CommandLuks:
    unknown_fields: list[str] = []
    calls: list[CryptsetupCall] = []
    mounts: list[MountCall] = []
    literals: list[KeyLiteral] = []
    mappings: list[Mapping] = []
    clevis: list[ClevisCall] = []
    key_outputs: list[KeyOutput] = []
    for fieldname in PROGRAM_FIELDS:
        text: Any = resource.props.get(fieldname)
        if is_unknown(text):
            unknown_fields.append(fieldname)
            continue
        if not isinstance(text, str) or not text.strip():
            continue
        if "cryptsetup" not in text and "mount" not in text and "clevis" not in text:
            continue
        facts = _field_facts(text, fieldname)
        calls.extend(facts.calls)
        mounts.extend(facts.mounts)
        literals.extend(facts.literals)
        clevis.extend(facts.clevis)
        key_outputs.extend(facts.key_outputs)
        mappings.extend(
            Mapping(name, device, kind, resource, fieldname, call)
            for name, device, kind, call in facts.openings
        )
    return CommandLuks(resource, unknown_fields, calls, mounts, literals, mappings, clevis, key_outputs)
