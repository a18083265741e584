"""Key material reaches cryptsetup only on stdin or from the project's root-only key files.

A passphrase in a file elsewhere (/tmp, a home directory, the working directory) outlives the
run, may be readable by others, and is not covered by the key directory's permissions and
rotation. Accepted key sources of every cryptsetup call that reads a key (--key-file / -d,
--new-keyfile, --volume-key-file, the new-key file of luksAddKey/luksChangeKey):
- stdin (`-`, /dev/stdin, /dev/fd/0): the Command's stdin, a Pulumi secret;
- a process substitution that only prints shell variables (`<(printf '%s' "$KEY")`; literals
  there are luks-parameters' concern);
- a file under a key directory: this policy's `keyDirectories` plus the stack's own
  `encryption.keysDir` setting as the engine passes the stack config (never a value from the
  Command's text, which could name any directory).
A path the reader cannot resolve fails closed.

clevis (analysis/clevis_cli.py) is held to the same sources and, since it can print a key, to
where that key goes:
- `clevis luks bind` reads the existing passphrase from `-k -` or, without `-k`, from stdin (both
  fine), from an existing LUKS2 token (`-e`, fine), or from the file `-k` names: judged like a
  cryptsetup key file (key directories, process substitution of variables, unresolved fails
  closed);
- `clevis luks pass` prints the passphrase of a binding: its stdout must be piped straight into a
  cryptsetup call that reads its key on stdin (`--key-file=-`, or no key file) or a `clevis luks
  bind -k -`, or discarded (/dev/null). A file (`>`, `>>`, `&>`), `tee` or any other consumer, a
  descriptor (`>&2`: the Command's logs) and the Command's own stdout (kept in the state as its
  `stdout` output) are violations;
- unlock, list, unbind, regen, report and edit take their key from the binding (its Tang servers),
  never from the program: nothing to judge. A binding is not a key file: a crypttab entry with
  key `none` opened by `clevis luks unlock` needs no key directory.
Known limits: `key=$(clevis luks pass ...)` is a command substitution the reader does not follow
(the variable it fills is what later calls read, and a literal there is luks-parameters' concern);
a redirection of a whole group (`{ clevis luks pass ...; } > file`) is not seen; a `pass` alone in
a function whose caller pipes its output is read as leaving the key on stdout (fail closed).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from typing import Any

from analysis.clevis_cli import KEY_STDIN as CLEVIS_KEY_STDIN
from analysis.clevis_cli import Sink
from analysis.cryptsetup_cli import KEY_ACTIONS, KEY_STDIN
from analysis.luks import analyze_command
from analysis.rule import Context, Finding, Rule
from analysis.shell_reading.expansion import Word, parse_program
from analysis.shell_reading.wrappers import strip_wrappers
from analysis.stack import COMMANDS, Resource, StackInfo

NAME = "luks-key-sources"
FIX = (
    "pass the key on the Command's stdin (--key-file=-) or keep it in a root-only file under the key "
    "directory (encryption.keysDir)"
)
CLEVIS_FIX = (
    "pass the existing passphrase on stdin (`clevis luks bind -k - ...` fed by a pipe) or keep it in a "
    "root-only file under the key directory (encryption.keysDir)"
)
PRINTED_KEY_FIX = (
    "pipe `clevis luks pass` straight into the call that needs the key "
    "(`clevis luks pass -d DEV -s SLOT | cryptsetup open --key-file=- ...`)"
)


def key_directories(config: Any, info: StackInfo) -> list[str]:
    dirs = [str(d) for d in config["keyDirectories"]]
    raw = info.config_value("encryption")
    if raw:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            data = None
        keys_dir = data.get("keysDir") if isinstance(data, dict) else None
        if isinstance(keys_dir, str) and keys_dir.startswith("/"):
            dirs.append(keys_dir)
    return [posixpath.normpath(d) for d in dirs]


def _prints_only_variables(word: Word) -> bool:
    raw = word.raw.strip('"')
    if not (raw.startswith("<(") and raw.endswith(")")):
        return False
    inner = parse_program(raw[2:-1])
    for c in inner.all_commands():
        argv = strip_wrappers(c.argv)
        if not argv or argv[0] not in ("printf", "echo"):
            return False
        if c.redirects:
            return False
    return True


def _key_words(call: Any) -> list[tuple[str, Word]]:
    out = []
    for option in ("--key-file", "--new-keyfile", "--volume-key-file"):
        w = call.options.get(option)
        if w is not None:
            out.append((option, w))
    if call.action in ("luksAddKey", "luksChangeKey") and len(call.positional) >= 2:
        out.append(("new key file", call.positional[1]))
    return out


def _judge_key_file(
    r: Resource, field: str, word: Word, stdin: frozenset[str], dirs: list[str], fix: str
) -> Iterator[Finding]:
    if word.resolved and str(word) in stdin:
        return
    if _prints_only_variables(word):
        return
    if not word.resolved:
        yield Finding(
            r,
            field,
            f"reads key material from {word.raw}, which the reader cannot resolve (fail closed)",
            fix,
            "key-source:unknown",
        )
        return
    path = posixpath.normpath(str(word))
    if path.startswith("/") and any(path.startswith(d.rstrip("/") + "/") for d in dirs):
        return
    yield Finding(
        r,
        field,
        f"reads key material from {word}, outside the key directories ({', '.join(dirs)})",
        fix,
        f"key-source:{path}",
    )


def _sink_subject(sink: Sink) -> str:
    if sink.kind == "file" and sink.target is not None:
        return f"key-sink:{posixpath.normpath(str(sink.target)) if sink.target.resolved else 'unknown'}"
    if sink.kind == "pipe" and sink.consumer is not None:
        return f"key-sink:pipe:{sink.consumer.name}"
    return f"key-sink:{sink.kind}"


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    dirs = key_directories(ctx.config, ctx.info)
    facts = analyze_command(r)
    for call in facts.calls:
        if call.action not in KEY_ACTIONS:
            continue
        for option, word in _key_words(call):
            field = f"{call.field} (cryptsetup {call.action} {option})"
            yield from _judge_key_file(r, field, word, KEY_STDIN, dirs, FIX)
    for cl in facts.clevis:
        key_file = cl.key_file
        if key_file is not None:
            field = f"{cl.field} (clevis luks {cl.subcommand} -k)"
            yield from _judge_key_file(r, field, key_file, CLEVIS_KEY_STDIN, dirs, CLEVIS_FIX)
    for out in facts.key_outputs:
        if out.to_key_reader or out.sink.kind == "discarded":
            continue
        yield Finding(
            r,
            f"{out.call.field} (clevis luks {out.call.subcommand})",
            f"prints a LUKS passphrase and {out.sink.describe()}: the key leaves stdin",
            PRINTED_KEY_FIX,
            _sink_subject(out.sink),
        )


RULE = Rule(
    name=NAME,
    description=(
        "LUKS keys only on stdin or from root-only key files under the key directory (cryptsetup and "
        "clevis), and a key clevis prints only piped into the call that reads it."
    ),
    enforcement="mandatory",
    scope="resource",
    resource_types=COMMANDS,
    check=check,
    config={
        "keyDirectories": {
            "type": "array",
            "items": {"type": "string", "pattern": "^/"},
            "description": (
                "Directories of root-only key files cryptsetup may read (the stack's encryption.keysDir is "
                "added from the stack config)."
            ),
            "default": ["/etc/encrypted-platform/keys"],
        }
    },
)
