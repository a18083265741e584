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
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from typing import Any

from analysis.cryptsetup_cli import KEY_ACTIONS, KEY_STDIN
from analysis.luks import analyze_command
from analysis.rule import Context, Finding, Rule
from analysis.shell_reading.expansion import Word, parse_program
from analysis.shell_reading.wrappers import strip_wrappers
from analysis.stack import COMMANDS, StackInfo

NAME = "luks-key-sources"
FIX = (
    "pass the key on the Command's stdin (--key-file=-) or keep it in a root-only file under the key "
    "directory (encryption.keysDir)"
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


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    dirs = key_directories(ctx.config, ctx.info)
    facts = analyze_command(r)
    for call in facts.calls:
        if call.action not in KEY_ACTIONS:
            continue
        for option, word in _key_words(call):
            if word.resolved and str(word) in KEY_STDIN:
                continue
            if _prints_only_variables(word):
                continue
            field = f"{call.field} (cryptsetup {call.action} {option})"
            if not word.resolved:
                yield Finding(
                    r,
                    field,
                    f"reads key material from {word.raw}, which the reader cannot resolve (fail closed)",
                    FIX,
                    "key-source:unknown",
                )
                continue
            path = posixpath.normpath(str(word))
            if path.startswith("/") and any(path.startswith(d.rstrip("/") + "/") for d in dirs):
                continue
            yield Finding(
                r,
                field,
                f"reads key material from {word}, outside the key directories ({', '.join(dirs)})",
                FIX,
                f"key-source:{path}",
            )


RULE = Rule(
    name=NAME,
    description="LUKS keys only on stdin or from root-only key files under the key directory.",
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
