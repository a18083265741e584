"""The command lines of cryptsetup and mount, as the LUKS facts read them: cryptsetup's actions
and options (long and short spellings of cryptsetup 2.x, normalized to the long one) and where
its key material may come from, and the source and target of a mount. Pure argv parsers over the
shell reader's expanded words; what the calls mean for the stack is luks.py's.
"""

from __future__ import annotations

from dataclasses import dataclass

from .shell_reading.expansion import SimpleCommand, Word

CRYPTSETUP_ACTIONS = frozenset(
    {
        "open",
        "close",
        "status",
        "resize",
        "refresh",
        "luksFormat",
        "luksOpen",
        "luksClose",
        "luksSuspend",
        "luksResume",
        "luksAddKey",
        "luksRemoveKey",
        "luksChangeKey",
        "luksConvertKey",
        "luksKillSlot",
        "luksUUID",
        "isLuks",
        "luksDump",
        "luksHeaderBackup",
        "luksHeaderRestore",
        "erase",
        "luksErase",
        "convert",
        "config",
        "token",
        "reencrypt",
        "create",
        "remove",
        "plainOpen",
        "tcryptOpen",
        "tcryptDump",
        "bitlkOpen",
        "bitlkDump",
        "loopaesOpen",
        "fvault2Open",
        "fvault2Dump",
        "benchmark",
        "repair",
    }
)
OPEN_ACTIONS = {
    "open": None,
    "luksOpen": "luks",
    "create": "plain",
    "plainOpen": "plain",
    "tcryptOpen": "tcrypt",
    "bitlkOpen": "bitlk",
    "loopaesOpen": "loopaes",
    "fvault2Open": "fvault2",
}
# Options that take a value (long and short spellings of cryptsetup 2.x).
VALUE_OPTIONS = {
    "--type": "--type",
    "-M": "--type",
    "--cipher": "--cipher",
    "-c": "--cipher",
    "--key-size": "--key-size",
    "-s": "--key-size",
    "--key-file": "--key-file",
    "-d": "--key-file",
    "--hash": "--hash",
    "-h": "--hash",
    "--pbkdf": "--pbkdf",
    "--pbkdf-memory": "--pbkdf-memory",
    "--pbkdf-parallel": "--pbkdf-parallel",
    "--pbkdf-force-iterations": "--pbkdf-force-iterations",
    "--iter-time": "--iter-time",
    "-i": "--iter-time",
    "--uuid": "--uuid",
    "--label": "--label",
    "--subsystem": "--subsystem",
    "--header": "--header",
    "--keyfile-size": "--keyfile-size",
    "-l": "--keyfile-size",
    "--keyfile-offset": "--keyfile-offset",
    "--key-slot": "--key-slot",
    "-S": "--key-slot",
    "--sector-size": "--sector-size",
    "--offset": "--offset",
    "-o": "--offset",
    "--skip": "--skip",
    "-p": "--skip",
    "--size": "--size",
    "-b": "--size",
    "--master-key-file": "--volume-key-file",
    "--volume-key-file": "--volume-key-file",
    "--token-id": "--token-id",
    "--token-type": "--token-type",
    "--active-name": "--active-name",
    "--resilience": "--resilience",
    "--resilience-hash": "--resilience-hash",
    "--hotzone-size": "--hotzone-size",
    "--luks2-metadata-size": "--luks2-metadata-size",
    "--luks2-keyslots-size": "--luks2-keyslots-size",
    "--integrity": "--integrity",
    "--timeout": "--timeout",
    "-t": "--timeout",
    "--tries": "--tries",
    "-T": "--tries",
    "--align-payload": "--align-payload",
    "--device-size": "--device-size",
    "--reduce-device-size": "--reduce-device-size",
    "--new-keyfile": "--new-keyfile",
    "--new-keyfile-size": "--new-keyfile-size",
    "--new-keyfile-offset": "--new-keyfile-offset",
    "--new-key-slot": "--new-key-slot",
    "--priority": "--priority",
    "--key-description": "--key-description",
    "--header-backup-file": "--header-backup-file",
    "--json-file": "--json-file",
    "--external-tokens-path": "--external-tokens-path",
    "--debug-json": None,
    "--keyslot-cipher": "--keyslot-cipher",
    "--keyslot-key-size": "--keyslot-key-size",
    "--volume-key-keyring": "--volume-key-keyring",
    "--link-vk-to-keyring": "--link-vk-to-keyring",
    "--hw-opal": None,
    "--hw-opal-only": None,
}
KEY_STDIN = frozenset({"-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"})
# Actions that read key material (and where).
KEY_ACTIONS = frozenset(
    {
        "open",
        "luksOpen",
        "luksFormat",
        "luksAddKey",
        "luksChangeKey",
        "luksConvertKey",
        "luksResume",
        "luksRemoveKey",
        "luksKillSlot",
        "reencrypt",
        "resize",
        "token",
        "luksDump",
        "create",
        "plainOpen",
    }
)


# `cryptsetup token <action>`: token JSON metadata (import/export on stdin/stdout or
# --json-file), a keyring description (add), a token's removal or its link to a key slot: none
# reads a passphrase, so a token import's stdin is token JSON, not key material.
TOKEN_ACTIONS = frozenset({"add", "remove", "import", "export", "unassign"})
# luksDump reads a passphrase only to print the volume key.
DUMP_KEY_FLAGS = frozenset({"--dump-volume-key", "--dump-master-key"})


@dataclass
class CryptsetupCall:
    action: str
    positional: list[Word]
    options: dict[str, Word]
    flags: set[str]
    command: SimpleCommand
    prefix: list[Word]  # words before `cryptsetup` (a wrapper function and its arguments)
    field: str

    def option(self, name: str) -> Word | None:
        return self.options.get(name)

    @property
    def token_action(self) -> str | None:
        """`import` of `cryptsetup token import ...` (None for other actions or an unknown word)."""
        if self.action != "token" or not self.positional or not self.positional[0].resolved:
            return None
        word = str(self.positional[0])
        return word if word in TOKEN_ACTIONS else None

    @property
    def text(self) -> str:
        return " ".join(
            w if w.resolved else w.raw
            for w in [*self.prefix, Word("cryptsetup"), Word(self.action), *self.positional]
        )


@dataclass
class MountCall:
    source: Word
    target: Word
    field: str


def reads_key_on_stdin(call: CryptsetupCall) -> bool:
    """Whether what the call's stdin carries may be a passphrase: not for a token action (its
    stdin is token JSON), nor for luksDump unless it dumps the volume key; every other action is
    taken to read one (fail closed)."""
    if call.action == "token":
        return call.token_action is None
    if call.action == "luksDump":
        return bool(call.flags & DUMP_KEY_FLAGS)
    return True


def parse_cryptsetup(argv: list[Word], idx: int, cmd: SimpleCommand, fieldname: str) -> CryptsetupCall | None:
    options: dict[str, Word] = {}
    flags: set[str] = set()
    positional: list[Word] = []
    i = idx + 1
    while i < len(argv):
        w = argv[i]
        if w.startswith("--") and "=" in w:
            name, _, value = w.partition("=")
            options[VALUE_OPTIONS.get(name) or name] = Word(value, resolved=w.resolved, raw=w.raw)
        elif w in VALUE_OPTIONS and VALUE_OPTIONS[w] is not None:
            if i + 1 < len(argv):
                options[VALUE_OPTIONS[w]] = argv[i + 1]  # type: ignore[index]
                i += 1
        elif w.startswith("-") and w not in KEY_STDIN and len(w) > 1:
            flags.add(str(w))
        else:
            positional.append(w)
        i += 1
    if not positional or str(positional[0]) not in CRYPTSETUP_ACTIONS:
        return None
    return CryptsetupCall(
        action=str(positional[0]),
        positional=positional[1:],
        options=options,
        flags=flags,
        command=cmd,
        prefix=argv[:idx],
        field=fieldname,
    )


MOUNT_VALUE_OPTIONS = {
    "-t",
    "--types",
    "-o",
    "--options",
    "-O",
    "--test-opts",
    "-L",
    "--label",
    "-U",
    "--uuid",
    "-N",
    "--namespace",
    "--source",
    "--target",
    "--target-prefix",
    "-T",
    "--fstab",
    "-m",
    "--mkdir",
}


def parse_mount(argv: list[Word], fieldname: str) -> MountCall | None:
    source: Word | None = None
    target: Word | None = None
    positional: list[Word] = []
    bind = False
    i = 1
    while i < len(argv):
        w = argv[i]
        if w in ("--bind", "-B", "--rbind", "-R", "--move", "-M"):
            bind = True
        elif w in ("--source",) and i + 1 < len(argv):
            source = argv[i + 1]
            i += 1
        elif w in ("--target",) and i + 1 < len(argv):
            target = argv[i + 1]
            i += 1
        elif w in MOUNT_VALUE_OPTIONS and i + 1 < len(argv):
            i += 1
        elif w.startswith("-") and len(w) > 1:
            pass
        else:
            positional.append(w)
        i += 1
    if bind:
        return None
    if source is None and positional:
        source = positional.pop(0)
    if target is None and positional:
        target = positional.pop(0)
    if source is None or target is None:
        return None
    return MountCall(source, target, fieldname)
