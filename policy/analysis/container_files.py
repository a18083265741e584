"""Which files a workload sees at which paths, and where their content comes from.

A file reaches a container's filesystem as
- an upload (`uploads`), content known, unknown at preview, or read from the operator's machine;
- a Swarm config exposed as a file (`configs`);
- a file on a mounted volume or bind: written there by a Command of the stack, or put there by
  something the pack cannot see (a host directory nobody in the stack writes, a volume that is not
  the stack's, another container mounting the same volume writable).

Commands are read by a deliberately small reader (`command_writes`): it knows how a program
writes a file whose content it can prove (stdin into `cat >`, `tee`, `install /dev/stdin`, `cp
/dev/stdin`, `dd of=`; a here-document; `printf`/`echo` of literal words; the project's own
secret-file programs), and treats every other command that names a path as writing something
unknown there (downloads, copies, archives, mounts, `rm`, any redirection). A path the reader
cannot resolve makes the directories the program names opaque.

The rules ask `ContainerView.lookup(path)` (a file, known to be absent, or opaque) and
`ContainerView.under(directory)` (every file the pack knows below a directory, and whether
something it cannot see may add more).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .shell_reading.wrappers import SHELLS, strip_wrappers
from .stack import COMMANDS, SERVICE_CONFIG, VOLUME, Resource
from .values import UNKNOWN, is_unknown
from .workloads import workloads_of

if TYPE_CHECKING:
    from .stack import StackModel
    from .workloads import Workload

DOCKER_VOLUMES_DIR = "/var/lib/docker/volumes"
# Commands that never create or change a file's content at the paths they name.
NON_WRITING = frozenset(
    {
        "mkdir",
        "chmod",
        "chown",
        "chgrp",
        "chattr",  # file attributes (the LUKS mount point is made immutable), never content
        "lsattr",
        "test",
        "[",
        "[[",
        "ls",
        "stat",
        "cat",
        "grep",
        "cmp",
        "diff",
        "head",
        "tail",
        "wc",
        "sha256sum",
        "mountpoint",
        "findmnt",
        "blkid",
        "lsblk",
        "cryptsetup",
        "mkfs.ext4",
        "mkfs.xfs",
        "wipefs",
        "losetup",
        "sync",
        "true",
        "false",
        ":",
        "printf",
        "echo",
        "read",
        "set",
        "export",
        "local",
        "readonly",
        "declare",
        "umask",
        "sleep",
        "id",
        "exit",
        "return",
        "trap",
        "shift",
        "flock",
        "mktemp",
        "realpath",
        "readlink",
        "dirname",
        "basename",
        "systemctl",
        "udevadm",
        "command",
        "type",
        "hash",
        "pwd",
        "date",
        "logger",
        "awk",
        "sed",
        "fsck",
        "e2fsck",
        "tune2fs",
        "resize2fs",
        "dumpe2fs",
    }
)
SHELL_KEYWORDS = frozenset(
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
        "for",
        "in",
        "case",
        "esac",
    }
)
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*|[0-9]+)\}|([A-Za-z_][A-Za-z0-9_]*|[0-9]))")
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\+?)=(.*)$", re.S)
_HEREDOC = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_ABSOLUTE = re.compile(r"(?<![\w$])/[A-Za-z0-9._@%+=:,~/-]+")
_PROJECT_PROGRAM = re.compile(
    r"^# encrypted-platform secret-file/(install|remove|ensure_directory) for ", re.M
)
_PARAMETER_LINE = re.compile(r"^(EP_[A-Z_]+)='((?:[^']|'\"'\"')*)'$", re.M)
_OPERATORS = frozenset({";", "&&", "||", "|", "&", "\n", ";;", "|&"})
_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", "<", "<<", "<<-", "<<<", ">&", "<&", "<>"})
_HEREDOC_MARK = "\x00heredoc:"
# `$` and backquotes inside single quotes are literal: marked before the lexer drops the quotes.
_LITERAL_DOLLAR, _LITERAL_BACKQUOTE = "\x02", "\x01"


def _mark_single_quoted(program: str) -> str:
    out: list[str] = []
    single = double = False
    i = 0
    while i < len(program):
        ch = program[i]
        if ch == "\\" and not single and program[i + 1 : i + 2] == "\n":
            i += 2  # a line continuation: the shell removes both characters
            continue
        if ch == "\\" and not single and i + 1 < len(program):
            out.append(program[i : i + 2])
            i += 2
            continue
        if ch == "#" and not single and not double and (i == 0 or program[i - 1] in " \t\n;&|()<>"):
            # A comment runs to the end of its line; a quote inside it ("the operator's") opens
            # nothing.
            end = program.find("\n", i)
            end = len(program) if end < 0 else end
            out.append(program[i:end])
            i = end
            continue
        if ch == "'" and not double:
            single = not single
        elif ch == '"' and not single:
            double = not double
        elif single and ch == "$":
            ch = _LITERAL_DOLLAR
        elif single and ch == "`":
            ch = _LITERAL_BACKQUOTE
        out.append(ch)
        i += 1
    return "".join(out)


def _restore(text: str) -> str:
    return text.replace(_LITERAL_DOLLAR, "$").replace(_LITERAL_BACKQUOTE, "`")


@dataclass(frozen=True)
class WrittenFile:
    """A file (or, with `tree`, everything below a directory) a Command puts on its host."""

    path: str
    content: Any  # str | UNKNOWN
    how: str
    command: Resource
    field: str
    tree: bool = False  # True: the content of the whole directory `path` is unknown


@dataclass
class CommandWrites:
    command: Resource
    files: list[WrittenFile] = field(default_factory=list)
    # Absolute paths named by a command whose target the reader could not resolve.
    unresolved_near: list[str] = field(default_factory=list)


def _expand(word: str, variables: dict[str, str]) -> str | None:
    """The word with known variables substituted; None when something stays unresolved."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return variables.get(name, "\x00")

    out = _VAR.sub(sub, word)
    if "\x00" in out or "$" in out or "`" in out:
        return None
    return _restore(out)


def _literal_prefix(word: str) -> str:
    """The absolute directory a partly unresolved word certainly lies under ('' if none)."""
    cut = min((i for i in (word.find("$"), word.find("`")) if i >= 0), default=len(word))
    prefix = word[:cut]
    if not prefix.startswith("/"):
        return ""
    return prefix.rsplit("/", 1)[0] or "/"


def _heredocs(program: str) -> tuple[str, dict[str, tuple[str, bool]]]:
    """The program with each here-document replaced by a marker word, and the bodies by marker
    (body, expands: an unquoted delimiter expands $ and backquotes)."""
    lines = program.split("\n")
    out: list[str] = []
    bodies: dict[str, tuple[str, bool]] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        pending: list[tuple[str, str, bool]] = []

        def mark(m: re.Match[str], pending: list[tuple[str, str, bool]] = pending) -> str:
            key = f"{_HEREDOC_MARK}{len(bodies) + len(pending)}"
            pending.append((key, m.group(3), m.group(1) == "-"))
            return f"< {key} " if not m.group(2) else f"< {key}q "

        if "<<<" not in line:
            line = _HEREDOC.sub(mark, line)
        out.append(line)
        for key, delimiter, strip_tabs in pending:
            body: list[str] = []
            while i < len(lines):
                candidate = lines[i].lstrip("\t") if strip_tabs else lines[i]
                i += 1
                if candidate == delimiter:
                    break
                body.append(candidate)
            quoted = f"{key}q" in line
            bodies[f"{key}q" if quoted else key] = ("\n".join(body) + "\n", not quoted)
    return "\n".join(out), bodies


_SUBSTITUTION_MARK = "\x00sub"


def _substitutions(text: str) -> tuple[str, dict[str, str]]:
    """Command substitutions ($(...) and backquotes; single-quoted ones are already marked
    literal) replaced by a marker word that never resolves; their programs by marker."""
    out: list[str] = []
    inner: dict[str, str] = {}
    i = 0
    while i < len(text):
        if text.startswith("$(", i):
            depth, j, quote = 1, i + 2, ""
            while j < len(text) and depth:
                ch = text[j]
                if quote:
                    if ch == quote:
                        quote = ""
                elif ch in "\"'":
                    quote = ch
                elif ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                j += 1
            key = f"{_SUBSTITUTION_MARK}{len(inner)}\x00"
            inner[key] = _restore(text[i + 2 : j - 1])
            out.append(key)
            i = j
            continue
        if text[i] == "`":
            j = text.find("`", i + 1)
            j = len(text) if j < 0 else j
            key = f"{_SUBSTITUTION_MARK}{len(inner)}\x00"
            inner[key] = _restore(text[i + 1 : j])
            out.append(key)
            i = j + 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out), inner


def _printed(program: str, functions: dict[str, list[str]], variables: dict[str, str]) -> str | None:
    """What a substitution prints when its program is one `printf` (or a call, without arguments,
    of a function whose body is one `printf`) of values the reader knows; None otherwise."""
    tokens = _tokens(_mark_single_quoted(program))
    if tokens is None:
        return None
    commands = _simple_commands(tokens)
    if len(commands) == 1 and commands[0][0] == [program.strip()] and program.strip() in functions:
        commands = _simple_commands(functions[program.strip()])
    if len(commands) != 1:
        return None
    words, redirections, piped = commands[0]
    if redirections or piped or not words or words[0] != "printf":
        return None
    arguments = [_expand(w, variables) for w in words[1:]]
    if any(a is None for a in arguments):
        return None
    text = _printf([a for a in arguments if a is not None])
    if text is None or any(c in text for c in "$`\x00"):
        return None
    return text


def _with_printed_substitutions(
    word: str, substitutions: dict[str, str], functions: dict[str, list[str]], variables: dict[str, str]
) -> str:
    """The word with each substitution whose printed text is known put in its place (the LUKS
    program mounts "$(ep_mapper_path)"); the others stay markers that never resolve."""
    if _SUBSTITUTION_MARK not in word:
        return word
    for key, program in substitutions.items():
        if key in word:
            text = _printed(program, functions, variables)
            if text is not None:
                word = word.replace(key, text)
    return word


def _functions(tokens: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Function definitions (`name() { ... }`) taken out of the token stream, bodies by name."""
    out: list[str] = []
    functions: dict[str, list[str]] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        name = tok[:-2] if tok.endswith("()") and len(tok) > 2 else None
        if name is None and tokens[i : i + 1] == ["function"] and i + 1 < len(tokens):
            name, i = tokens[i + 1].removesuffix("()"), i + 1
        if name is not None:
            j = i + 1
            while j < len(tokens) and tokens[j].strip("\n") == "":
                j += 1
            if j < len(tokens) and tokens[j] == "{":
                depth, k = 1, j + 1
                while k < len(tokens) and depth:
                    if tokens[k] == "{":
                        depth += 1
                    elif tokens[k] == "}":
                        depth -= 1
                    k += 1
                functions[name] = tokens[j + 1 : k - 1]
                i = k
                continue
        out.append(tok)
        i += 1
    return out, functions


def _mktemp_path(value: str, substitutions: dict[str, str], variables: dict[str, str]) -> str | None:
    """`$(mktemp [options] [TEMPLATE])`: the template's path (a new file only this program writes)."""
    program = substitutions.get(value)
    if program is None:
        return None
    try:
        words = shlex.split(program)
    except ValueError:
        return None
    if not words or words[0] != "mktemp":
        return None
    directory, template = "/tmp", "tmp.XXXXXXXXXX"
    rest = words[1:]
    i = 0
    while i < len(rest):
        w = rest[i]
        if w in ("-p", "--tmpdir") and i + 1 < len(rest):
            directory = rest[i + 1]
            i += 2
            continue
        if not w.startswith("-"):
            template = w
        i += 1
    template_path, directory_path = _expand(template, variables), _expand(directory, variables)
    if template_path is None or directory_path is None:
        return None
    return template_path if template_path.startswith("/") else f"{directory_path}/{template_path}"


def _tokens(program: str) -> list[str] | None:
    lexer = shlex.shlex(program, posix=True, punctuation_chars=";&|<>\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:
        return None


def _simple_commands(tokens: list[str]) -> list[tuple[list[str], list[tuple[str, str]], bool]]:
    """(words, redirections, piped: stdin comes from a pipe) of each simple command."""
    out: list[tuple[list[str], list[tuple[str, str]], bool]] = []
    words: list[str] = []
    redirections: list[tuple[str, str]] = []
    piped = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok and not tok.strip(";&|\n"):
            if words or redirections:
                out.append((words, redirections, piped))
            piped = tok.strip("\n") in ("|", "|&")
            words, redirections = [], []
        elif tok in _REDIRECTS or (tok[-1:] in "<>" and tok.rstrip("<>&|") == "" and len(tok) <= 3):
            target = tokens[i + 1] if i + 1 < len(tokens) else ""
            if words and words[-1].isdigit():
                words.pop()
            redirections.append((tok, target))
            i += 1
        else:
            words.append(tok)
        i += 1
    if words or redirections:
        out.append((words, redirections, piped))
    return out


def _printf(arguments: list[str]) -> str | None:
    if not arguments:
        return None
    fmt, args = arguments[0], arguments[1:]
    if re.search(r"%[^s%]", fmt):
        return None
    pieces = fmt.split("%s")
    if len(pieces) - 1 == 0 and args:
        return None
    text = ""
    rounds = max(1, -(-len(args) // max(1, len(pieces) - 1))) if args else 1
    it = iter(args)
    for _ in range(rounds):
        for n, piece in enumerate(pieces):
            text += piece
            if n < len(pieces) - 1:
                text += next(it, "")
    return text.replace("%%", "%").replace("\\n", "\n").replace("\\t", "\t")


def _echo(arguments: list[str]) -> str | None:
    newline = True
    while arguments and arguments[0] in ("-n", "-e", "-E", "-ne", "-en"):
        if "n" in arguments[0]:
            newline = False
        if "e" in arguments[0]:
            return None
        arguments = arguments[1:]
    return " ".join(arguments) + ("\n" if newline else "")


OPTIONS_WITH_VALUES = {
    "install": frozenset(
        {"-m", "-o", "-g", "-t", "-S", "--mode", "--owner", "--group", "--target-directory", "--suffix"}
    ),
    "cp": frozenset({"-t", "-S", "--target-directory", "--suffix"}),
}


def _operands(args: list[str], with_values: frozenset[str]) -> list[str]:
    """Arguments that are not options (nor option values); `-t DIR` counts as the last operand."""
    out: list[str] = []
    target: str | None = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            out.extend(args[i + 1 :])
            break
        if a in with_values:
            if a in ("-t", "--target-directory") and i + 1 < len(args):
                target = args[i + 1]
            i += 2
            continue
        if a.startswith("-") and len(a) > 1:
            i += 1
            continue
        out.append(a)
        i += 1
    if target is not None:
        out = [*out, target + "/"]
    return out


def _options_value(words: list[str], *names: str) -> str | None:
    for i, w in enumerate(words):
        for name in names:
            if w == name and i + 1 < len(words):
                return words[i + 1]
            if name.startswith("--") and w.startswith(name + "="):
                return w[len(name) + 1 :]
            if not name.startswith("--") and w.startswith(name) and len(w) > len(name):
                return w[len(name) :]
    return None


class _Reader:
    def __init__(self, command: Resource, stdin: Any, fieldname: str) -> None:
        self.command = command
        self.stdin = stdin
        self.field = fieldname
        self.result = CommandWrites(command)
        self.unplaced = False

    def write(self, path: str, content: Any, how: str, *, tree: bool = False) -> None:
        path = posixpath.normpath(path) if path.startswith("/") else path
        fieldname = "stdin" if how.startswith("the Command's stdin") else self.field
        self.result.files.append(WrittenFile(path, content, how, self.command, fieldname, tree))

    def unresolved(self, words: list[str]) -> None:
        for w in words:
            prefix = _literal_prefix(w)
            if prefix:
                self.write(prefix, UNKNOWN, "a path the pack cannot resolve", tree=True)
            else:
                self.unplaced = True

    def read(
        self,
        program: str,
        depth: int = 0,
        variables: dict[str, str] | None = None,
        functions: dict[str, list[str]] | None = None,
    ) -> None:
        if depth > 6:
            self.opaque(program, "nested shells")
            return
        project = _PROJECT_PROGRAM.search(program)
        if project:
            self.project_program(program, project.group(1))
            return
        text, bodies = _heredocs(program)
        text, substitutions = _substitutions(_mark_single_quoted(text))
        tokens = _tokens(text)
        if tokens is None:
            self.opaque(program, "a program the pack cannot tokenise")
            return
        tokens, defined = _functions(tokens)
        known = {**(functions or {}), **defined}
        outer, self.unplaced = self.unplaced, False
        state = dict(variables or {})
        self.run(tokens, state, set(), bodies, substitutions, known, depth)
        unplaced = self.unplaced
        for inner in substitutions.values():
            # Substitutions run where they appear; the program's functions and the variables it
            # set are the best approximation of their context.
            self.read(inner, depth + 1, state, known)
        self.unplaced = outer or unplaced or self.unplaced
        if unplaced:
            # A write whose target the reader cannot resolve: every directory the program names
            # may be where it lands.
            self.result.unresolved_near.extend(_restore(p) for p in _ABSOLUTE.findall(program))

    def run(
        self,
        tokens: list[str],
        variables: dict[str, str],
        assigned_twice: set[str],
        bodies: dict[str, tuple[str, bool]],
        substitutions: dict[str, str],
        functions: dict[str, list[str]],
        depth: int,
    ) -> None:
        cwd: str | None = None

        def assign(word: str) -> None:
            m = _ASSIGNMENT.match(word)
            if not m:
                return
            name, value = m.groups()
            temporary = _mktemp_path(value, substitutions, variables)
            resolved = temporary if temporary is not None else _expand(value, variables)
            if name.endswith("+") or name in variables or name in assigned_twice or resolved is None:
                variables.pop(name.rstrip("+"), None)
                assigned_twice.add(name.rstrip("+"))
            else:
                variables[name] = resolved

        for words, redirections, piped in _simple_commands(tokens):
            words = [w for w in words if w not in SHELL_KEYWORDS]
            # `case` patterns (`*.yml)`, `*)`) are not commands.
            while (
                words and words[0].endswith(")") and not words[0].startswith(("$(", "(", _SUBSTITUTION_MARK))
            ):
                words = words[1:]
            while words and _ASSIGNMENT.match(words[0]):
                assign(words[0])
                words = words[1:]
            words = strip_wrappers(words)
            if words and words[0] in ("local", "declare", "typeset", "readonly", "export"):
                for w in words[1:]:
                    assign(w)
                continue
            words = [_with_printed_substitutions(w, substitutions, functions, variables) for w in words]
            expanded = [_expand(w, variables) for w in words]
            heredoc: tuple[str, bool] | None = None
            outputs: list[tuple[str, str | None, str]] = []
            for op, target in redirections:
                if target.startswith(_HEREDOC_MARK):
                    heredoc = bodies.get(target)
                elif op in (">", ">>", ">|", "&>", "&>>", "<>"):
                    resolved_target = _expand(target, variables)
                    if resolved_target is not None and not resolved_target.startswith("/"):
                        resolved_target = f"{cwd}/{resolved_target}" if cwd else None
                    outputs.append((op, resolved_target, target))
            if heredoc is not None:
                body, expands = heredoc
                if expands:
                    body_resolved = _expand(body.replace("\\$", ""), variables)
                    stdin_content: Any = UNKNOWN if body_resolved is None else body_resolved
                else:
                    stdin_content = body
                stdin_how = "a here-document"
            elif piped:
                stdin_content, stdin_how = UNKNOWN, "the output of another command"
            else:
                stdin_content, stdin_how = self.stdin, "the Command's stdin"
            if not words:
                for _op, resolved_target, raw in outputs:
                    self._output(resolved_target, raw, UNKNOWN, "a redirection")
                continue
            name = (expanded[0] or words[0]).rsplit("/", 1)[-1]
            if name in functions and depth < 6:
                positional = {str(i): e for i, e in enumerate(expanded[1:], start=1) if e is not None}
                self.run(
                    functions[name],
                    {**variables, **positional},
                    set(assigned_twice),
                    bodies,
                    substitutions,
                    functions,
                    depth + 1,
                )
                for _op, resolved_target, raw in outputs:
                    self._output(resolved_target, raw, UNKNOWN, f"the output of {name}")
                continue
            if name in SHELLS and len(words) >= 3 and words[1] == "-c":
                inner = expanded[2] if expanded[2] is not None else _restore(words[2])
                self.read(inner, depth + 1)
                continue
            if name == "cd":
                cwd = (
                    expanded[1] if len(expanded) > 1 and expanded[1] and expanded[1].startswith("/") else None
                )
                continue
            content, how = self._stdout_of(name, words[1:], expanded[1:], stdin_content, stdin_how)
            for op, resolved_target, raw in outputs:
                self._output(resolved_target, raw, content if op in (">", ">|", "&>") else UNKNOWN, how)
            self._arguments(name, words, expanded, stdin_content, stdin_how)

    def _stdout_of(
        self, name: str, words: list[str], expanded: list[str | None], stdin: Any, stdin_how: str
    ) -> tuple[Any, str]:
        if any(e is None for e in expanded):
            return UNKNOWN, "output built from values the pack cannot resolve"
        args = [e for e in expanded if e is not None]
        if name == "cat" and not [a for a in args if a != "-"]:
            return stdin, stdin_how
        if name == "printf":
            text = _printf(args)
            return (UNKNOWN if text is None else text), "printf"
        if name == "echo":
            text = _echo(args)
            return (UNKNOWN if text is None else text), "echo"
        if name in ("curl", "wget"):
            return UNKNOWN, "a download"
        return UNKNOWN, f"the output of {name}"

    def _output(self, resolved: str | None, raw: str, content: Any, how: str) -> None:
        if resolved is None:
            self.unresolved([raw])
        elif resolved.startswith("/") and resolved not in ("/dev/null", "/dev/stdout", "/dev/stderr"):
            self.write(resolved, content, how)

    def _arguments(
        self, name: str, words: list[str], expanded: list[str | None], stdin: Any, stdin_how: str
    ) -> None:
        args = expanded[1:]
        raw = words[1:]
        plain = [a for a in args if a is not None and not a.startswith("-")]
        if name == "tee":
            for a in plain:
                self.write(a, stdin if "-a" not in args else UNKNOWN, stdin_how)
            self.unresolved([r for r, a in zip(raw, args, strict=True) if a is None])
            return
        if name == "install" and ("-d" in args or "--directory" in args):
            return
        if name in ("install", "cp") and None not in args:
            operands = _operands([a or "" for a in args], OPTIONS_WITH_VALUES[name])
            if len(operands) < 2:
                self.unresolved([r for r in raw if r.startswith("/")])
                return
            source, target = operands[-2], operands[-1]
            if source in ("/dev/stdin", "-") and len(operands) == 2:
                self.write(target, stdin, stdin_how)
            else:
                self.write(target, UNKNOWN, f"a copy of {source}", tree=True)
            return
        if name == "dd":
            output = next((a[3:] for a in args if a and a.startswith("of=")), None)
            dd_input = next((a[3:] for a in args if a and a.startswith("if=")), None)
            if output:
                self.write(
                    output, stdin if dd_input is None else UNKNOWN, stdin_how if dd_input is None else "dd"
                )
            return
        if name in ("curl", "wget"):
            options = ("-o", "--output") if name == "curl" else ("-O", "--output-document")
            download = _options_value([a or "\x00" for a in args], *options)
            if download is not None and "\x00" not in download:
                self.write(download, UNKNOWN, f"a download ({name})")
            elif download is not None:
                self.unresolved([r for r in raw if "$" in r or "`" in r] or ["\x00"])
            elif name == "wget" or any(a in ("-O", "--remote-name", "--remote-name-all") for a in args):
                # the file is named after the URL, in the working directory
                self.unplaced = True
            return
        if name == "mount" and any(a and a.startswith("/dev/mapper/") for a in args):
            return  # an opened LUKS mapping: the volume's own content
        if name in NON_WRITING and name != "mount":
            return
        # Anything else that names a path may change what is there.
        for r, arg in zip(raw, args, strict=True):
            if arg is None:
                self.unresolved([r])
            elif arg.startswith("/") and not arg.startswith("/dev/") and not arg.startswith("/proc/"):
                self.write(arg.rstrip("/") or "/", UNKNOWN, f"{name}", tree=True)

    def project_program(self, program: str, kind: str) -> None:
        params = {k: v.replace("'\"'\"'", "'") for k, v in _PARAMETER_LINE.findall(program)}
        base = params.get("EP_BASE_DIR") or params.get("EP_DATA_DIR")
        relative = params.get("EP_RELATIVE_PATH")
        if not base or not relative:
            self.opaque(program, "a secret-file program without its parameters")
            return
        if kind == "install":
            self.write(f"{base}/{relative}", self.stdin, "the Command's stdin (secret-file install)")
        elif kind == "remove":
            self.write(f"{base}/{relative}", UNKNOWN, "secret-file remove")

    def opaque(self, program: str, why: str) -> None:
        for path in _ABSOLUTE.findall(program):
            self.write(path.rstrip("/") or "/", UNKNOWN, why, tree=True)


def _unwrap(text: str) -> str:
    """`[sudo -n] bash -c '<program>' [name]` -> the program; anything else unchanged."""
    if not re.match(r"\s*(?:\S*/)?(?:sudo|doas|env|exec|bash|sh|dash|ash|zsh|ksh)\b", text):
        return text
    try:
        words = shlex.split(text)
    except ValueError:
        return text
    words = strip_wrappers(words)
    if len(words) in (3, 4) and words[0].rsplit("/", 1)[-1] in SHELLS and words[1] == "-c":
        return words[2]
    return text


def command_writes(command: Resource) -> list[CommandWrites]:
    """What a Command's create and update programs write (delete runs when it goes away)."""
    out: list[CommandWrites] = []
    stdin = command.props.get("stdin")
    seen: set[str] = set()
    for key in ("create", "update"):
        program = command.props.get(key)
        if program is None:
            continue
        reader = _Reader(command, stdin, key)
        if is_unknown(program) or not isinstance(program, str):
            reader.result.unresolved_near.append("*")
            out.append(reader.result)
            continue
        if program in seen:
            continue
        seen.add(program)
        reader.read(_unwrap(program))
        out.append(reader.result)
    return out


# --- containers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a file or an opaque region in a container comes from (for messages)."""

    resource: Resource
    field: str
    how: str


@dataclass(frozen=True)
class ContainerFile:
    path: str
    content: Any  # str | UNKNOWN | None (from the operator's machine)
    origin: Origin


@dataclass(frozen=True)
class OpaqueRegion:
    path: str  # every path at or below it may hold files the pack cannot see
    origin: Origin


@dataclass
class ContainerView:
    files: list[ContainerFile] = field(default_factory=list)
    opaque: list[OpaqueRegion] = field(default_factory=list)

    def lookup(self, path: str) -> tuple[str, ContainerFile | OpaqueRegion | None]:
        """('file', f) | ('opaque', region) | ('absent', None). The last writer of a path wins;
        an opaque region over it makes it opaque."""
        for region in self.opaque:
            if _within(path, region.path):
                return "opaque", region
        found = [f for f in self.files if f.path == path]
        if found:
            return "file", found[-1]
        return "absent", None

    def under(self, directory: str) -> tuple[list[ContainerFile], list[OpaqueRegion]]:
        files = [f for f in self.files if _within(f.path, directory) and f.path != directory]
        regions = [r for r in self.opaque if _within(r.path, directory) or _within(directory, r.path)]
        latest: dict[str, ContainerFile] = {}
        for f in files:
            latest[f.path] = f
        return list(latest.values()), regions


def _within(path: str, directory: str) -> bool:
    directory = directory.rstrip("/") or "/"
    return path == directory or path.startswith(directory if directory == "/" else directory + "/")


def _host_dir_of_volume(volume: Resource) -> tuple[str | None, bool]:
    """(host directory of a stack volume, True when it is a bind of a host directory)."""
    opts = volume.props.get("driverOpts")
    if isinstance(opts, dict):
        device, o = opts.get("device"), opts.get("o")
        if isinstance(device, str) and isinstance(o, str) and "bind" in o.split(","):
            return device.rstrip("/") or "/", True
        if is_unknown(device) or is_unknown(o):
            return None, True
    elif is_unknown(opts):
        return None, True
    name = volume.props.get("name")
    if isinstance(name, str):
        return f"{DOCKER_VOLUMES_DIR}/{name}/_data", False
    return None, False


def _program_texts(command: Resource) -> list[Any]:
    return [command.props.get(k) for k in ("create", "update") if command.props.get(k) is not None]


def names_directory(text: str, directory: str) -> bool:
    """Whether a program's text names `directory`, a path inside it, or a directory above it
    (as a whole path: `/srv` in `cp x /srv/`, not in `/srv/other`). Quotes are ignored, so
    `'/srv/a'"/b"` names /srv/a/b."""
    flat = text.replace("'", "").replace('"', "").replace("\\", "")
    if directory in flat:
        return True
    parts = directory.strip("/").split("/")
    for depth in range(len(parts), 0, -1):
        ancestor = "/" + "/".join(parts[:depth])
        if re.search(rf"(?<![\w.$-]){re.escape(ancestor)}/?(?![\w.-]|/[\w.-])", flat):
            return True
    return bool(re.search(r"(?<![\w.$-])/(?![\w.-])", flat))


class Placement:
    """Host files written by the stack's Commands. A Command is read (once) only when its text
    names a directory a Traefik container mounts, one inside it or one above it; a Command whose
    program is unknown at preview may write anywhere."""

    def __init__(self, model: StackModel) -> None:
        self.model = model
        self.commands = model.of_type(*COMMANDS)
        self._writes: dict[str, list[CommandWrites]] = {}

    def writes_near(self, host_dir: str) -> list[CommandWrites]:
        out: list[CommandWrites] = []
        for cmd in self.commands:
            texts = _program_texts(cmd)
            if not any(not isinstance(t, str) or names_directory(t, host_dir) for t in texts):
                continue
            if cmd.urn not in self._writes:
                self._writes[cmd.urn] = command_writes(cmd)
            out.extend(self._writes[cmd.urn])
        return out

    def view(self, w: Workload) -> ContainerView:
        view = ContainerView()
        for m in w.mounts:
            self._mount(w, m, view)
        for up in w.uploads:
            origin = Origin(w.resource, up.field, "an upload")
            if is_unknown(up.path) or not isinstance(up.path, str):
                view.opaque.append(
                    OpaqueRegion("/", Origin(w.resource, up.field, "an upload to an unknown path"))
                )
                continue
            content = up.content if (up.content is not None or up.source is None) else None
            view.files.append(ContainerFile(up.path, content, origin))
        for ref in w.configs:
            self._config(w, ref, view)
        return view

    def _config(self, w: Workload, ref: Any, view: ContainerView) -> None:
        import base64
        import binascii

        origin = Origin(w.resource, ref.field, "a Swarm config")
        path = ref.file_name
        if not isinstance(path, str):
            view.opaque.append(
                OpaqueRegion("/", Origin(w.resource, ref.field, "a Swarm config at an unknown path"))
            )
            return
        configs = (
            self.model.named(SERVICE_CONFIG, ref.config_name) if isinstance(ref.config_name, str) else []
        )
        if not configs:
            configs = self.model.property_sources(w.resource, "taskSpec", [SERVICE_CONFIG])
        if len(configs) != 1:
            view.files.append(ContainerFile(path, UNKNOWN, origin))
            return
        data = configs[0].props.get("data")
        content: Any = UNKNOWN
        if isinstance(data, str):
            try:
                content = base64.b64decode(data, validate=False).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                content = UNKNOWN
        view.files.append(ContainerFile(path, content, Origin(configs[0], "data", "a Swarm config")))

    def _mount(self, w: Workload, m: Any, view: ContainerView) -> None:
        if m.kind == "tmpfs":
            return
        target = m.target
        if not isinstance(target, str):
            view.opaque.append(OpaqueRegion("/", Origin(w.resource, m.field, "a mount at an unknown path")))
            return
        target = target.rstrip("/") or "/"
        origin = Origin(w.resource, m.field, f"a {m.kind} mount")
        host_dir: str | None = None
        if m.kind == "bind" and isinstance(m.source, str):
            view.opaque.append(
                OpaqueRegion(target, Origin(w.resource, m.field, f"a bind of the host directory {m.source}"))
            )
            return
        if m.kind == "volume":
            volumes = self.model.named(VOLUME, m.source) if isinstance(m.source, str) else []
            if not volumes and is_unknown(m.source):
                candidates = self.model.property_sources(w.resource, m.prop_key, [VOLUME])
                volumes = candidates if len(candidates) == 1 else []
            if len(volumes) == 1:
                host_dir, _bind = _host_dir_of_volume(volumes[0])
                if host_dir is not None and not self._shared_writable(w, volumes[0], m):
                    self._place(host_dir, target, view)
                    return
        why = {
            "volume": "a volume whose content the pack cannot see (not this stack's, shared with a "
            "writable container, or its directory unknown)",
        }.get(str(m.kind), f"a {m.kind} mount")
        view.opaque.append(OpaqueRegion(target, Origin(origin.resource, origin.field, why)))

    def _shared_writable(self, w: Workload, volume: Resource, mount: Any) -> bool:
        name = volume.props.get("name")
        for other in self.model.fact(workloads_of):
            if other.resource is w.resource:
                continue
            for m in other.mounts:
                if m.kind == "volume" and m.source == name and m.read_only is not True:
                    return True
        return False

    def _place(self, host_dir: str, target: str, view: ContainerView) -> None:
        for writes in self.writes_near(host_dir):
            for f in writes.files:
                origin = Origin(f.command, f.field, f.how)
                if _within(f.path, host_dir):
                    inside = target + f.path[len(host_dir) :] if f.path != host_dir else target
                    if f.tree:
                        view.opaque.append(OpaqueRegion(inside, origin))
                    else:
                        view.files.append(ContainerFile(inside, f.content, origin))
                elif f.tree and _within(host_dir, f.path):
                    view.opaque.append(OpaqueRegion(target, origin))
            for near in writes.unresolved_near:
                if near == "*" or _within(near, host_dir):
                    view.opaque.append(
                        OpaqueRegion(
                            target,
                            Origin(
                                writes.command, "create", "a program whose targets the pack cannot resolve"
                            ),
                        )
                    )
