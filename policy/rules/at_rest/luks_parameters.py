"""LUKS parameters and key handling, read from the programs Commands run.

For every cryptsetup call in a Command's create/update/delete program:
- luksFormat states --type luks2, --cipher aes-xts-plain64, --key-size 512 and an allowed
  (memory-hard) --pbkdf explicitly: defaults depend on the host's cryptsetup build;
- a mapping is opened as LUKS2 (plain dm-crypt, LUKS1, TrueCrypt/BitLocker images are not) and
  the device it opens is formatted by the same program (otherwise its parameters are unverifiable);
- key slots added later and re-encryption use an allowed KDF and the same cipher and key size;
  re-encryption never decrypts;
- key material comes only on stdin: no literal piped, here-string'd, written to a key file or
  passed through process substitution in the program text, no key-like environment variable, and
  the Command's stdin never appears in its text or environment.
A program unknown at preview may carry key material: it is a violation (fail closed).

clevis (`clevis luks bind`): a literal fed to it as the existing passphrase (piped, here-string,
a key file written from a literal, a wrapper function's literal argument) is key material in the
text, judged as for cryptsetup; a Command that runs clevis is a LUKS command, so its environment
and stdin are judged too. The key slot bind adds is not judged: clevis adds it itself (`cryptsetup
luksAddKey --pbkdf pbkdf2 --pbkdf-force-iterations 1000`, inside clevis, not in the program text)
for a random key as strong as the volume key, which no KDF work factor could make stronger, and
our own luksFormat/luksAddKey calls beside it are still held to the KDF above.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from analysis.cryptsetup_cli import OPEN_ACTIONS, CryptsetupCall
from analysis.luks import analyze_command
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import COMMANDS, Resource
from analysis.values import is_unknown

NAME = "luks-parameters"
KEYISH_ENV = re.compile(r"(KEY|PASS|PASSWORD|PASSPHRASE|SECRET|TOKEN|CRED)", re.I)
FORMAT_FIX = (
    "format with cryptsetup luksFormat --type luks2 --cipher aes-xts-plain64 --key-size 512 "
    "--pbkdf argon2id --key-file=- <device> (key on stdin)"
)


def _value(call: CryptsetupCall, option: str) -> tuple[str | None, bool]:
    """(value, resolved) of an option; (None, True) when absent."""
    word = call.option(option)
    if word is None:
        return None, True
    return str(word), word.resolved


def _check_format(r: Resource, call: CryptsetupCall, cfg: dict[str, Any]) -> Iterator[Finding]:
    field = f"{call.field} (cryptsetup {call.action})"
    device = str(call.positional[0]) if call.positional else "?"
    expected = {
        "--type": "luks2",
        "--cipher": cfg["cipher"],
        "--key-size": str(int(cfg["keySizeBits"])),
    }
    for option, want in expected.items():
        value, resolved = _value(call, option)
        if not resolved:
            yield Finding(
                r,
                field,
                f"formats {device} with {option} from a value the pack cannot resolve",
                f"pass {option} {want} as a literal or a parameter assigned once",
                f"luksFormat:{option}",
            )
        elif value is None:
            yield Finding(
                r,
                field,
                f"formats {device} without {option}, so the host's build default decides",
                FORMAT_FIX,
                f"luksFormat:{option}",
            )
        elif value != want:
            yield Finding(
                r,
                field,
                f"formats {device} with {option} {value} (required: {want})",
                FORMAT_FIX,
                f"luksFormat:{option}",
            )
    yield from _check_kdf(r, call, cfg, required=True)


def _check_kdf(r: Resource, call: CryptsetupCall, cfg: dict[str, Any], required: bool) -> Iterator[Finding]:
    field = f"{call.field} (cryptsetup {call.action})"
    value, resolved = _value(call, "--pbkdf")
    allowed = list(cfg["allowedKdfs"])
    if not resolved:
        yield Finding(
            r,
            field,
            "sets --pbkdf from a value the pack cannot resolve",
            f"pass --pbkdf {allowed[0]} as a literal or a parameter assigned once",
            "kdf",
        )
    elif value is None:
        if required:
            yield Finding(
                r,
                field,
                "sets no --pbkdf, so the host's build default decides the key derivation",
                f"add --pbkdf {allowed[0]}",
                "kdf",
            )
    elif value not in allowed:
        yield Finding(
            r,
            field,
            f"derives keys with {value}, which is not memory-hard (allowed: {', '.join(allowed)})",
            f"use --pbkdf {allowed[0]}",
            "kdf",
        )


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    cfg = dict(ctx.config)
    facts = analyze_command(r)
    for field in facts.unknown_fields:
        yield unknown_finding(
            r, field, "that the program keeps key material out of its text", f"program:{field}"
        )
    if not facts.is_luks_command:
        return
    formatted = {str(c.positional[0]) for c in facts.calls if c.action == "luksFormat" and c.positional}
    for call in facts.calls:
        field = f"{call.field} (cryptsetup {call.action})"
        if call.action == "luksFormat":
            yield from _check_format(r, call, cfg)
        elif call.action in OPEN_ACTIONS:
            if "--test-passphrase" in call.flags:
                continue
            declared, resolved = _value(call, "--type")
            # An action that implies its type (plainOpen, luksOpen...) wins over --type.
            kind = OPEN_ACTIONS[call.action] or declared or "luks"
            if not resolved:
                yield Finding(
                    r,
                    field,
                    "opens a mapping with a --type the pack cannot resolve",
                    "pass --type luks2 as a literal",
                    "open:type",
                )
                continue
            if kind not in ("luks", "luks2"):
                yield Finding(
                    r,
                    field,
                    f"opens a {kind} mapping: not LUKS2 (no verified header, cipher or KDF)",
                    FORMAT_FIX + " and open it with cryptsetup open --type luks2",
                    "open:type",
                )
                continue
            device = str(call.positional[0]) if call.positional else ""
            if device not in formatted:
                yield Finding(
                    r,
                    field,
                    f"opens {device or 'a device'} that this program does not format, so its "
                    "LUKS version, cipher, key size and KDF cannot be verified",
                    FORMAT_FIX + " in the same program (guarded: only a blank device is formatted)",
                    "open:unverified",
                )
        elif call.action in ("luksAddKey", "luksChangeKey", "luksConvertKey"):
            yield from _check_kdf(r, call, cfg, required=False)
        elif call.action == "reencrypt":
            if "--decrypt" in call.flags:
                yield Finding(
                    r, field, "decrypts the device (removes the encryption)", "remove --decrypt", "reencrypt"
                )
            yield from _check_kdf(r, call, cfg, required=False)
            for option, want in (
                ("--cipher", cfg["cipher"]),
                ("--key-size", str(int(cfg["keySizeBits"]))),
                ("--type", "luks2"),
            ):
                value, resolved = _value(call, option)
                if value is not None and (not resolved or value != want):
                    yield Finding(
                        r,
                        field,
                        f"re-encrypts with {option} {value if resolved else '(unresolved)'}",
                        f"use {option} {want}",
                        f"reencrypt:{option}",
                    )
        elif call.action == "convert":
            value, _resolved = _value(call, "--type")
            if value != "luks2":
                yield Finding(r, field, f"converts the header to {value}", "keep LUKS2", "convert")
    for lit in facts.literals:
        yield Finding(
            r,
            lit.field,
            f"puts key material in the command text: {lit.where} ({lit.length} characters)",
            "pass keys only on the Command's stdin (a Pulumi secret) and read them with --key-file=-",
            "key:literal",
        )
    env = r.props.get("environment")
    if is_unknown(env):
        yield unknown_finding(
            r, "environment", "that no key material is in the environment", "key:environment"
        )
    elif isinstance(env, dict):
        for name in env:
            if KEYISH_ENV.search(name):
                yield Finding(
                    r,
                    f"environment[{name}]",
                    "passes a key-like variable in the environment of a LUKS "
                    "command (environments end up in process listings and state)",
                    "pass keys only on stdin",
                    "key:environment",
                )
    stdin = r.props.get("stdin")
    if isinstance(stdin, str):
        secrets = [line.strip() for line in stdin.splitlines() if len(line.strip()) >= 8]
        texts = [(f, r.props.get(f)) for f in ("create", "update", "delete")]
        if isinstance(env, dict):
            texts += [(f"environment[{k}]", v) for k, v in env.items()]
        for field, text in texts:
            if isinstance(text, str) and any(s in text for s in secrets):
                yield Finding(
                    r,
                    field,
                    "contains the key material that the Command also passes on stdin",
                    "keep the key only on stdin; never interpolate it into the command",
                    "key:in-text",
                )


RULE = Rule(
    name=NAME,
    description=(
        "LUKS parameters: LUKS2, aes-xts-plain64, 512-bit keys, a memory-hard KDF, and key material only on "
        "stdin (never in a command's text or environment)."
    ),
    enforcement="mandatory",
    scope="resource",
    resource_types=COMMANDS,
    check=check,
    config={
        "cipher": {"type": "string", "description": "Required cipher.", "default": "aes-xts-plain64"},
        "keySizeBits": {"type": "integer", "description": "Required key size in bits.", "default": 512},
        "allowedKdfs": {
            "type": "array",
            "items": {"type": "string", "enum": ["argon2id", "argon2i", "pbkdf2"]},
            "minItems": 1,
            "description": "Key derivation functions allowed for key slots (first one is suggested).",
            "default": ["argon2id", "argon2i"],
        },
    },
)
