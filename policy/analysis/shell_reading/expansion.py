"""The evaluator of the shell reader: a small, conservative one.

It does not execute anything. It groups the lexer's tokens into simple commands (with their
redirections and pipes), and expands words as far as it can prove: variables that are only ever
assigned one literal value (such as a parameter block of `NAME='value'` lines), `"${ARRAY[@]}"`
of arrays built from such words, and `$(f)` where `f` is a one-line function that prints a format
of such words. Anything else stays *unresolved*, and a rule that needs the value treats it as
unknown.

Nested `[sudo ...] bash -c '<program>' name` programs (found by wrappers.py) are parsed as well.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from .lexer import ASSIGNMENT, NAME, NAME_RE, Token, read_balanced, read_dquote, tokenize
from .wrappers import shell_c_program

_ARRAY_WORD = re.compile(rf'"?\$\{{({NAME})\[[@*]\]\}}"?')
_SPECIAL = re.compile(r"[\\'\"$`<>]")
_PARAMETER = re.compile(rf"({NAME})(?::?[-=](.*))?", re.S)
_FUNC_ONE_LINE = re.compile(rf"^\s*(?:function\s+)?({NAME})\s*\(\s*\)\s*\{{\s*(.*?)\s*;?\s*\}}\s*$")
KEYWORDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "do",
        "done",
        "while",
        "until",
        "!",
        "{",
        "}",
        "time",
        "case",
        "esac",
        "in",
    }
)


class Word(str):
    """An expanded word. `resolved` is False when some part could not be proven."""

    resolved: bool
    raw: str

    def __new__(cls, value: str, resolved: bool = True, raw: str = "") -> Word:
        obj = super().__new__(cls, value)
        obj.resolved = resolved
        obj.raw = raw or value
        return obj


@dataclass
class Redirect:
    op: str  # "<", ">", ">>", "<<<", "<<", "<&", ...
    fd: str
    target: Word
    heredoc: str | None = None


@dataclass
class SimpleCommand:
    argv: list[Word]
    raw_words: list[str]
    redirects: list[Redirect] = field(default_factory=list)
    stdin_from: SimpleCommand | None = None  # previous command of a pipeline
    assignments: list[tuple[str, Word]] = field(default_factory=list)  # prefix NAME=value

    @property
    def name(self) -> str:
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else ""


@dataclass
class Program:
    """One shell program: its simple commands, with words expanded as far as provable."""

    text: str
    commands: list[SimpleCommand]
    variables: dict[str, str]
    arrays: dict[str, list[Word]]
    nested: list[Program]
    functions: dict[str, str] = field(default_factory=dict)  # one-line functions, for $(f)

    def all_commands(self) -> list[SimpleCommand]:
        out = list(self.commands)
        for p in self.nested:
            out.extend(p.all_commands())
        return out

    def expand_command(self, text: str) -> list[SimpleCommand]:
        """The simple command(s) in `text` (one command the grammar found in this program),
        with words expanded by what this program proves about its variables."""
        expander = _Expander(self.variables, self.arrays, self.functions)  # type: ignore[arg-type]
        return _simple_commands(_split_commands(tokenize(text)), expander)


class _Expander:
    def __init__(self, variables: dict[str, str], arrays: dict[str, list[str]], functions: dict[str, str]):
        self.variables = variables
        self.arrays = arrays
        self.functions = functions

    def expand(self, raw: str) -> list[Word]:
        """One raw word -> expanded word(s) (an unquoted or "${A[@]}" array gives several)."""
        m = _ARRAY_WORD.fullmatch(raw) if "[" in raw else None
        if m and m.group(1) in self.arrays:
            return [Word(v, resolved=_is_resolved(v), raw=raw) for v in self.arrays[m.group(1)]]
        value, resolved = self._expand_text(raw, quoted=False)
        return [Word(value, resolved=resolved, raw=raw)]

    def _expand_text(self, s: str, quoted: bool) -> tuple[str, bool]:
        if not _SPECIAL.search(s):
            return s, True
        out: list[str] = []
        resolved = True
        i, n = 0, len(s)
        while i < n:
            c = s[i]
            if c == "\\" and i + 1 < n:
                out.append(s[i + 1])
                i += 2
                continue
            if c == "'" and not quoted:
                j = s.find("'", i + 1)
                j = n if j < 0 else j
                out.append(s[i + 1 : j])
                i = j + 1
                continue
            if c == '"' and not quoted:
                j = read_dquote(s, i + 1)
                inner, ok = self._expand_text(s[i + 1 : j - 1], quoted=True)
                out.append(inner)
                resolved &= ok
                i = j
                continue
            if s.startswith("$(", i) and not s.startswith("$((", i):
                j = read_balanced(s, i + 2, "(", ")")
                value = self._command_substitution(s[i + 2 : j - 1].strip())
                if value is None:
                    out.append(s[i:j])
                    resolved = False
                else:
                    out.append(value)
                i = j
                continue
            if s.startswith("${", i):
                j = read_balanced(s, i + 2, "{", "}")
                value = self._parameter(s[i + 2 : j - 1])
                if value is None:
                    out.append(s[i:j])
                    resolved = False
                else:
                    out.append(value)
                i = j
                continue
            if c == "$" and i + 1 < n:
                m = NAME_RE.match(s, i + 1)
                if m:
                    value = self.variables.get(m.group(0))
                    if value is None:
                        out.append(s[i : m.end()])
                        resolved = False
                    else:
                        out.append(value)
                    i = m.end()
                    continue
                if s[i + 1] in "0123456789@*#?!$-":
                    out.append(s[i : i + 2])
                    resolved = False
                    i += 2
                    continue
            if c == "`":
                j = s.find("`", i + 1)
                j = n if j < 0 else j
                out.append(s[i : j + 1])
                resolved = False
                i = j + 1
                continue
            if c in "<>" and i + 1 < n and s[i + 1] == "(" and not quoted:
                j = read_balanced(s, i + 2, "(", ")")
                out.append(s[i:j])
                resolved = False
                i = j
                continue
            out.append(c)
            i += 1
        return "".join(out), resolved

    def _parameter(self, body: str) -> str | None:
        m = _PARAMETER.fullmatch(body)
        if not m:
            return None
        value = self.variables.get(m.group(1))
        if value is not None and (value != "" or m.group(2) is None):
            return value
        if m.group(2) is not None and value is None and m.group(1) not in self.variables:
            # ${X:-default} with X never assigned: the default is all we can prove
            default, ok = self._expand_text(m.group(2), quoted=True)
            return default if ok else None
        if m.group(2) is not None and value == "":
            default, ok = self._expand_text(m.group(2), quoted=True)
            return default if ok else None
        return None

    def _command_substitution(self, inner: str) -> str | None:
        """$(f) for a one-line function whose body is `printf FORMAT ARGS...` or `echo ARGS...`."""
        if NAME_RE.fullmatch(inner) and inner in self.functions:
            inner = self.functions[inner]
        try:
            argv_raw = shlex.split(inner, posix=False)
        except ValueError:
            return None
        if not argv_raw or argv_raw[0] not in ("printf", "echo"):
            return None
        words: list[Word] = []
        for raw in argv_raw[1:]:
            words.extend(self.expand(raw))
        if not all(w.resolved for w in words):
            return None
        if argv_raw[0] == "echo":
            args: list[str] = [w for w in words if w not in ("-n", "-e")]
            return " ".join(args)
        if not words:
            return None
        fmt, args = str(words[0]), [str(w) for w in words[1:]]
        try:
            return _printf(fmt, args)
        except (ValueError, IndexError):
            return None


def _printf(fmt: str, args: list[str]) -> str:
    out = []
    i = 0
    arg_iter = iter(args)
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            spec = fmt[i + 1]
            if spec == "%":
                out.append("%")
            elif spec in "sdb":
                out.append(next(arg_iter, ""))
            else:
                raise ValueError(spec)
            i += 2
            continue
        if fmt[i] == "\\" and i + 1 < len(fmt):
            out.append({"n": "\n", "t": "\t"}.get(fmt[i + 1], fmt[i + 1]))
            i += 2
            continue
        out.append(fmt[i])
        i += 1
    return "".join(out)


def _is_resolved(value: str) -> bool:
    return not isinstance(value, Word) or value.resolved


def _split_commands(
    toks: list[Token],
) -> list[tuple[list[str], list[tuple[str, str, str, str | None]], bool]]:
    """Tokens -> [(words, redirects, piped_from_previous)]."""
    out: list[tuple[list[str], list[tuple[str, str, str, str | None]], bool]] = []
    words: list[str] = []
    redirs: list[tuple[str, str, str, str | None]] = []
    piped = False
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.kind == "WORD":
            words.append(t.value)
        elif t.kind == "REDIR":
            target = toks[i + 1].value if i + 1 < len(toks) and toks[i + 1].kind == "WORD" else ""
            redirs.append((t.value, t.fd, target, t.heredoc))
            i += 1
        elif t.kind == "NL" and piped and not words and not redirs:
            pass  # `a |` at the end of a line: the pipeline goes on on the next one
        else:  # OP or NL ends a simple command
            if words or redirs:
                out.append((words, redirs, piped))
            words, redirs = [], []
            piped = t.kind == "OP" and t.value in ("|", "|&")
        i += 1
    if words or redirs:
        out.append((words, redirs, piped))
    return out


def _strip_keywords(words: list[str]) -> list[str]:
    while words and words[0] in KEYWORDS:
        words = words[1:]
    # function definition header: `name` `(` `)` `{` arrive as separate tokens; `{` stripped above
    if words and words[0] == "function" and len(words) > 1:
        return []
    return words


def _collect_definitions(
    script: str,
    simple: list[tuple[list[str], list[tuple[str, str, str, str | None]], bool]],
    resolve_locals: bool = False,
) -> tuple[dict[str, list[str]], set[str], dict[str, list[list[str]]], dict[str, str]]:
    """Assignments by variable (raw values), variables assigned dynamically, array
    assignments, and one-line functions."""
    values: dict[str, list[str]] = {}
    dynamic: set[str] = set()
    arrays: dict[str, list[list[str]]] = {}
    for words, _redirs, _piped in simple:
        words = _strip_keywords(list(words))
        # leading NAME=value words: shell variables when nothing follows, else the environment
        # of the one command that follows (not shell variables)
        idx = 0
        while idx < len(words) and ASSIGNMENT.match(words[idx]):
            idx += 1
        if idx == len(words):
            for w in words:
                m = ASSIGNMENT.match(w)
                assert m is not None
                name, plus, value = m.group(1), m.group(2), m.group(3)
                if value.startswith("(") and value.endswith(")"):
                    arrays.setdefault(name, []).append(_array_items(value[1:-1]))
                elif plus:
                    dynamic.add(name)
                else:
                    values.setdefault(name, []).append(value)
            continue
        words = words[idx:]
        head = words[0]
        if head in ("local", "declare", "typeset", "export", "readonly"):
            for w in words[1:]:
                if w.startswith("-"):
                    continue
                m = ASSIGNMENT.match(w)
                name = m.group(1) if m else w
                if NAME_RE.fullmatch(name):
                    # `local`/`declare` makes a function-scoped variable: its value is not the
                    # global one, so never substitute it, unless asked to (`resolve_locals`):
                    # then a local with a value counts as one more assignment of the name, and
                    # the name resolves only when every assignment anywhere agrees.
                    if head in ("local", "declare", "typeset") and not (resolve_locals and m):
                        dynamic.add(name)
                    elif m:
                        values.setdefault(name, []).append(m.group(3))
            continue
        if head in ("read", "mapfile", "readarray", "getopts", "printf"):
            # read NAME / printf -v NAME: the value comes from input at run time
            for w in words[1:]:
                if NAME_RE.fullmatch(w):
                    dynamic.add(w)
            continue
        if head in ("for", "select") and len(words) > 1:
            dynamic.add(words[1])
            continue
        if head in ("unset",):
            dynamic.update(w for w in words[1:] if NAME_RE.fullmatch(w))
    functions: dict[str, str] = {}
    for line in script.splitlines():
        m = _FUNC_ONE_LINE.match(line)
        if m:
            functions[m.group(1)] = m.group(2)
    return values, dynamic, arrays, functions


def _array_items(text: str) -> list[str]:
    return [t.value for t in tokenize(text) if t.kind == "WORD"]


def parse_program(text: str, depth: int = 0, *, resolve_locals: bool = False) -> Program:
    toks = tokenize(text)
    # REDIR tokens keep their operator in `value`
    simple_raw = _split_commands(toks)
    values, dynamic, array_defs, functions = _collect_definitions(text, simple_raw, resolve_locals)

    # Resolve variables to a fixpoint: a variable is known when all its assignments expand to
    # the same fully resolved value.
    known: dict[str, str] = {}
    for _ in range(8):
        expander = _Expander(known, {}, functions)
        changed = False
        for name, raws in values.items():
            if name in dynamic or name in known:
                continue
            expanded = [expander.expand(r)[0] for r in raws]
            if all(w.resolved for w in expanded) and len({str(w) for w in expanded}) == 1:
                known[name] = str(expanded[0])
                changed = True
        if not changed:
            break
    expander = _Expander(known, {}, functions)
    arrays: dict[str, list[Word]] = {}
    for name, defs in array_defs.items():
        items: list[Word] = []
        for d in defs:
            for raw in d:
                items.extend(expander.expand(raw))
        arrays[name] = items
    expander = _Expander(known, arrays, functions)  # type: ignore[arg-type]

    commands = _simple_commands(simple_raw, expander)
    nested: list[Program] = []
    for cmd in commands:
        inner = shell_c_program(cmd.argv)
        if inner is not None and depth < 4:
            nested.append(parse_program(inner, depth + 1))
    return Program(
        text=text, commands=commands, variables=known, arrays=arrays, nested=nested, functions=functions
    )


def _simple_commands(
    simple_raw: list[tuple[list[str], list[tuple[str, str, str, str | None]], bool]], expander: _Expander
) -> list[SimpleCommand]:
    commands: list[SimpleCommand] = []
    previous: SimpleCommand | None = None
    for words, redirs, piped in simple_raw:
        words = _strip_keywords(list(words))
        assignments: list[tuple[str, Word]] = []
        while words and ASSIGNMENT.match(words[0]) and not words[0].split("=", 1)[1].startswith("("):
            m = ASSIGNMENT.match(words[0])
            assert m is not None
            assignments.append((m.group(1), expander.expand(m.group(3))[0]))
            words = words[1:]
        argv: list[Word] = []
        for raw in words:
            argv.extend(expander.expand(raw))
        redirects = [
            Redirect(op=op, fd=fd, target=expander.expand(target)[0] if target else Word(""), heredoc=heredoc)
            for op, fd, target, heredoc in redirs
        ]
        cmd = SimpleCommand(argv=argv, raw_words=words, redirects=redirects, assignments=assignments)
        if piped and previous is not None:
            cmd.stdin_from = previous
        commands.append(cmd)
        previous = cmd
    return commands
