"""clevis' LUKS command lines, as the LUKS facts read them: `clevis luks <subcommand>` (also
spelled `clevis-luks-<subcommand>`, the program the `clevis` dispatcher runs), each subcommand's
options as its getopts string declares them (clevis 18 to 21: clustered flags `-yf`, values
attached `-k-` or separate `-k -`, options end at the first operand or `--`), where `bind` reads
the existing passphrase from, which subcommand prints a passphrase, and where a command's stdout
goes. Pure readers over the shell reader's expanded words; what the calls mean for the stack is
luks.py's and the rules'.
"""

from __future__ import annotations

from dataclasses import dataclass

from .shell_reading.expansion import SimpleCommand, Word

CLEVIS = "clevis"
# Option letters that take a value, per subcommand (the getopts strings of clevis-luks-*).
VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "bind": frozenset("dskte"),
    "pass": frozenset("ds"),
    "unlock": frozenset("dnt"),
    "unbind": frozenset("ds"),
    "list": frozenset("ds"),
    "regen": frozenset("ds"),
    "report": frozenset("ds"),
    "edit": frozenset("dsc"),
}
SUBCOMMANDS = frozenset(VALUE_OPTIONS)
# `bind` asks for an existing passphrase to add its own key slot; every other subcommand gets the
# passphrase it needs from the binding itself (the pin's servers or TPM), none from the program.
READS_KEY = frozenset({"bind"})
# `pass` prints the passphrase a binding holds: wherever its stdout goes, a key goes.
PRINTS_KEY = frozenset({"pass"})
# `bind -k -` is stdin; any other word is a file that must be a regular one (`[ -f "$KEY" ]`), so
# /dev/stdin fed by a pipe is refused by clevis itself, and read here as the path it names.
KEY_STDIN = frozenset({"-"})
# Redirection operators that send a descriptor to a file (`>&N` duplicates one instead).
_TO_FILE = frozenset({">", ">>", ">|", "<>"})
DISCARD = frozenset({"/dev/null"})


@dataclass
class ClevisCall:
    subcommand: str
    options: dict[str, Word]  # by letter, last value wins (as getopts leaves it)
    flags: set[str]  # letters
    operands: list[Word]  # `bind`: PIN CFG
    command: SimpleCommand
    prefix: list[Word]  # words before `clevis` (a wrapper function and its arguments)
    field: str

    def option(self, letter: str) -> Word | None:
        return self.options.get(letter)

    @property
    def reads_key(self) -> bool:
        return self.subcommand in READS_KEY

    @property
    def prints_key(self) -> bool:
        return self.subcommand in PRINTS_KEY

    @property
    def key_file(self) -> Word | None:
        """The file `bind -k` reads the existing passphrase from (`-` is stdin); None when `-k` is
        absent: then bind reads the passphrase from stdin (`read -s` of a prompt), or takes it from
        an existing LUKS2 token (`-e`), neither of which is a file."""
        return self.options.get("k") if self.reads_key else None

    @property
    def text(self) -> str:
        words = [*self.prefix, Word(CLEVIS), Word("luks"), Word(self.subcommand)]
        return " ".join(w if w.resolved else w.raw for w in words)


@dataclass(frozen=True)
class Sink:
    """Where a command's stdout goes: a file (`>`, `>>`, `&>`), discarded (/dev/null), another
    descriptor (`>&2`: the Command's stderr), the next command of its pipeline, or the program's
    own stdout (which pulumi-command keeps as the Command's `stdout` output, in the state)."""

    kind: str  # "file" | "discarded" | "descriptor" | "pipe" | "stdout"
    target: Word | None = None
    consumer: SimpleCommand | None = None

    def describe(self) -> str:
        if self.kind == "pipe" and self.consumer is not None:
            return f"pipes it into `{self.consumer.name}`"
        if self.kind == "file" and self.target is not None:
            return f"writes it to {self.target if self.target.resolved else self.target.raw}"
        if self.kind == "descriptor":
            return f"sends it to descriptor {self.target} (the Command's logs and outputs)"
        if self.kind == "stdout":
            return "leaves it on the Command's stdout (kept as its `stdout` output in the state)"
        return "discards it"


def _subcommand_at(argv: list[Word], idx: int) -> tuple[str, int] | None:
    """(subcommand, index of its first argument) when argv[idx] starts a clevis LUKS call."""
    name = argv[idx].rsplit("/", 1)[-1]
    if not argv[idx].resolved:
        return None
    if name == CLEVIS:
        if idx + 2 < len(argv) and argv[idx + 1] == "luks" and str(argv[idx + 2]) in SUBCOMMANDS:
            return str(argv[idx + 2]), idx + 3
        return None
    if name.startswith("clevis-luks-") and name[len("clevis-luks-") :] in SUBCOMMANDS:
        return name[len("clevis-luks-") :], idx + 1
    return None


def parse_clevis(argv: list[Word], idx: int, cmd: SimpleCommand, fieldname: str) -> ClevisCall | None:
    """The clevis LUKS call whose program name is argv[idx], else None."""
    found = _subcommand_at(argv, idx)
    if found is None:
        return None
    sub, i = found
    takes_value = VALUE_OPTIONS[sub]
    options: dict[str, Word] = {}
    flags: set[str] = set()
    while i < len(argv):
        w = argv[i]
        if w == "--":
            i += 1
            break
        if not (w.startswith("-") and len(w) > 1 and not w.startswith("--")):
            break
        j = 1
        while j < len(w):
            letter = w[j]
            if letter in takes_value:
                if j + 1 < len(w):
                    options[letter] = Word(w[j + 1 :], resolved=w.resolved, raw=w.raw)
                elif i + 1 < len(argv):
                    i += 1
                    options[letter] = argv[i]
                else:
                    options[letter] = Word("", resolved=False, raw=w.raw)
                break
            flags.add(letter)
            j += 1
        i += 1
    return ClevisCall(
        subcommand=sub,
        options=options,
        flags=flags,
        operands=list(argv[i:]),
        command=cmd,
        prefix=list(argv[:idx]),
        field=fieldname,
    )


def find_clevis(argv: list[Word], cmd: SimpleCommand, fieldname: str) -> ClevisCall | None:
    """The clevis LUKS call of a command line whose wrappers are stripped: at its head, or behind a
    wrapper function (`ep_with_key "$KEY" clevis luks bind ...`); never the operand of a lookup
    (`command -v clevis`) nor of a command that prints its arguments."""
    if argv and argv[0] in ("command", "type", "which", "hash", "echo", "printf"):
        return None
    for idx in range(len(argv)):
        call = parse_clevis(argv, idx, cmd, fieldname)
        if call is None:
            continue
        # Behind other words, a call is one only when options follow (every subcommand needs -d):
        # `ep_require_tools clevis clevis-luks-bind clevis-luks-pass` names programs, runs none.
        if idx == 0 or (call.options or call.flags):
            return call
    return None


def stdout_sink(cmd: SimpleCommand, commands: list[SimpleCommand]) -> Sink:
    """Where `cmd`'s stdout goes (the last redirection of descriptor 1 wins, as in the shell; a
    pipe is set up before redirections, so a redirection of stdout overrides it)."""
    sink: Sink | None = None
    for r in cmd.redirects:
        if r.fd not in ("", "1", "&"):
            continue
        if r.op in _TO_FILE and not (r.op == "<>" and r.fd == ""):
            if r.target.resolved and str(r.target) in DISCARD:
                sink = Sink("discarded", r.target)
            else:
                sink = Sink("file", r.target)
        elif r.op == ">&":
            if r.target.resolved and str(r.target) == "-":
                sink = Sink("discarded", r.target)  # `>&-` closes stdout
            elif r.target.resolved and str(r.target).isdigit():
                sink = Sink("descriptor", r.target)
            else:
                sink = Sink("file", r.target)  # `>&file` is `&>file`
    if sink is not None:
        return sink
    consumer = next((c for c in commands if c.stdin_from is cmd), None)
    if consumer is not None:
        return Sink("pipe", consumer=consumer)
    return Sink("stdout")
