"""The structure of a shell program, read with the real bash grammar (tree-sitter-bash).

The word-level reader (shell_reading/) expands words and unwraps `bash -c`; it does not know
which code runs and in what order. This module adds what a grammar can prove:
- whether the program parses at all (an ERROR or MISSING node: the pack cannot tell what it does);
- which functions the program calls (transitively, from its top level), so that code in
  functions that never run is not judged, and `reachable_text` hides it from the word reader;
- for a target command (the mount of a LUKS mapping), the statements that run before it and may
  end the program successfully first (`exit`, `exit 0`, `return` outside a function, `exec
  <program>`, `kill $$`), and guards that make it unreachable (`true || mount ...`, `false &&
  ...`, `if false; then mount ...`), or a target that sits only in functions never called.

Without tree-sitter (not installed in the pack's virtualenv) every program is "unparsed", which
the rules treat as unknown: fail closed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

try:  # pragma: no cover - the import itself is what is tested
    import tree_sitter
    import tree_sitter_bash

    _PARSER: Any = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))
except ImportError:  # pragma: no cover
    _PARSER = None

# Words in front of a command that run it (the word reader's table, kept in sync by tests).
_WRAPPERS = frozenset(
    {"sudo", "doas", "env", "nohup", "command", "builtin", "nice", "ionice", "timeout", "stdbuf", "setsid"}
)
_ALWAYS_TRUE = frozenset({"true", ":"})
_ALWAYS_FALSE = frozenset({"false"})
# Nodes whose commands run in a child process: an `exit` there ends only the child.
_WORD_NODES = frozenset(
    {
        "command_name",
        "word",
        "string",
        "raw_string",
        "concatenation",
        "number",
        "simple_expansion",
        "expansion",
        "command_substitution",
    }
)
_CHILD_PROCESS = frozenset({"subshell", "command_substitution", "process_substitution", "pipeline"})


@dataclass(frozen=True)
class Construct:
    line: int  # 1-based
    text: str
    why: str

    def where(self) -> str:
        return f"line {self.line}: `{self.text}` ({self.why})"


@dataclass(frozen=True)
class Structure:
    parsed: bool
    errors: tuple[Construct, ...]
    functions: frozenset[str]
    called: frozenset[str]
    reachable_text: str  # the program with the functions it never calls blanked out


@dataclass(frozen=True)
class Reachability:
    has_target: bool  # the target command is in reachable code
    target_in_uncalled_function: bool
    exits_before: tuple[Construct, ...]
    unreachable: tuple[Construct, ...]


def available() -> bool:
    return _PARSER is not None


def _short(node: Any) -> str:
    text = node.text.decode("utf-8", "replace").strip().replace("\n", " ")
    return text if len(text) <= 80 else text[:77] + "..."


def _line(node: Any) -> int:
    return int(node.start_point[0]) + 1


def _command_words(node: Any) -> list[str]:
    """The words of a `command` node as written (name first), wrappers and their options dropped."""
    words: list[str] = []
    for child in node.named_children:
        if child.type in _WORD_NODES:
            words.append(child.text.decode("utf-8", "replace"))
    i = 0
    while i < len(words) and words[i].rsplit("/", 1)[-1] in _WRAPPERS:
        i += 1
        while i < len(words) and (words[i].startswith("-") or "=" in words[i]):
            i += 1
    return words[i:]


def command_name(node: Any) -> str:
    words = _command_words(node)
    return words[0].rsplit("/", 1)[-1] if words else ""


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _functions(root: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in _walk(root):
        if n.type == "function_definition":
            name = n.child_by_field_name("name")
            body = n.child_by_field_name("body")
            if name is not None and body is not None:
                out.setdefault(name.text.decode(), n)
    return out


def _calls(node: Any, functions: dict[str, Any]) -> set[str]:
    """Functions called by the code of `node`, not counting nested function definitions."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n is not node and n.type == "function_definition":
            continue
        if n.type == "command":
            for word in _command_words(n):
                if word in functions:  # also wrapper functions' arguments: `ep_with_key K f`
                    out.add(word)
        stack.extend(n.children)
    return out


@lru_cache(maxsize=512)
def _tree(text: str) -> Any:
    return _PARSER.parse(text.encode("utf-8")) if _PARSER is not None else None


@lru_cache(maxsize=512)
def structure(text: str) -> Structure:
    tree = _tree(text)
    if tree is None:
        return Structure(
            False, (Construct(1, "", "the bash grammar is not installed"),), frozenset(), frozenset(), text
        )
    root = tree.root_node
    errors = tuple(
        Construct(_line(n), _short(n), "does not parse as bash")
        for n in _walk(root)
        if n.type == "ERROR" or n.is_missing
    )
    functions = _functions(root)
    called: set[str] = set()
    pending = list(_calls(root, functions))
    while pending:
        name = pending.pop()
        if name in called:
            continue
        called.add(name)
        pending.extend(_calls(functions[name], functions) - called)
    data = bytearray(text.encode("utf-8"))
    for name, node in functions.items():
        if name not in called:
            for i in range(node.start_byte, node.end_byte):
                if data[i] != 0x0A:
                    data[i] = 0x20
    return Structure(
        parsed=not errors,
        errors=errors[:5],
        functions=frozenset(functions),
        called=frozenset(called),
        reachable_text=data.decode("utf-8", "replace"),
    )


@lru_cache(maxsize=512)
def command_texts(text: str) -> tuple[tuple[int, str], ...]:
    """(line, source text) of every simple command the program runs, in order, functions it never
    calls left out; with the redirections (here-documents included) that belong to it. Case
    patterns, test expressions and assignments are not commands. Empty when it does not parse."""
    shape = structure(text)
    if not shape.parsed:
        return ()
    tree = _tree(shape.reachable_text)
    out: list[tuple[int, str]] = []
    for n in _walk(tree.root_node):
        if n.type != "command":
            continue
        node = n.parent if n.parent is not None and n.parent.type == "redirected_statement" else n
        out.append((_line(n), node.text.decode("utf-8", "replace")))
    return tuple(out)


def _literal_nonzero(word: str) -> bool:
    word = word.strip("'\"")
    return word.isdigit() and int(word) != 0


def _descriptor(word: str) -> bool:
    return word.isdigit() or (word.startswith("{") and word.endswith("}") and word[1:-1].isidentifier())


def _ends_program(node: Any, in_function: bool) -> str | None:
    """Why this command can end the whole program successfully, or None."""
    words = _command_words(node)
    if not words:
        return None
    name = words[0].rsplit("/", 1)[-1]
    if name == "exit" and not (len(words) > 1 and _literal_nonzero(words[1])):
        plain = len(words) == 1 or words[1] == "0"
        return "ends the program (successfully)" if plain else "may end the program successfully"
    if name == "return" and not in_function and not (len(words) > 1 and _literal_nonzero(words[1])):
        return "returns from the program"
    # `exec 0</dev/null` only redirects (the grammar reads the descriptor as an argument)
    # (and `exec {fd}>file` opens a descriptor the shell names)
    if name == "exec" and any(not _descriptor(w) and not w.startswith("-") for w in words[1:]):
        return "replaces the shell with another program"
    if name == "kill" and any(w.strip('"') in ("$$", "${$}") for w in words[1:]):
        return "kills the program's own shell"
    return None


def _exits(
    node: Any, functions: dict[str, Any], in_function: bool, seen: frozenset[str] = frozenset()
) -> list[Construct]:
    """Commands in `node` (and in the functions it calls) that can end the program successfully;
    nothing in child processes, nothing in function definitions (they only define)."""
    out: list[Construct] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in _CHILD_PROCESS or (n is not node and n.type == "function_definition"):
            continue
        if n.type == "command":
            why = _ends_program(n, in_function)
            if why:
                out.append(Construct(_line(n), _short(n), why))
            for word in _command_words(n):
                if word in functions and word not in seen:
                    body = functions[word].child_by_field_name("body")
                    # inside a called function `return` only leaves that function
                    out.extend(_exits(body, functions, True, seen | {word}))
        stack.extend(reversed(n.children))
    return out


def reachability(text: str, is_target: Callable[[list[str]], bool]) -> Reachability:
    """Where the first target command (judged on its words, wrappers dropped) runs, and what may
    end the program or skip it before."""
    tree = _tree(text)
    if tree is None:
        return Reachability(False, False, (), ())
    root = tree.root_node
    functions = _functions(root)
    memo: dict[int, bool] = {}

    def contains(node: Any, seen: frozenset[str]) -> bool:
        key = node.id
        if key in memo and not seen:
            return memo[key]
        found = False
        stack = [node]
        while stack and not found:
            n = stack.pop()
            if n is not node and n.type == "function_definition":
                continue
            if n.type == "command":
                words = _command_words(n)
                if is_target(words):
                    found = True
                    break
                for word in words:
                    if word in functions and word not in seen:
                        body = functions[word].child_by_field_name("body")
                        if contains(body, seen | {word}):
                            found = True
                            break
            stack.extend(n.children)
        if not seen:
            memo[key] = found
        return found

    exits: list[Construct] = []
    unreachable: list[Construct] = []

    def guard(node: Any) -> None:
        """A list, if or loop around the target that can never let it run."""
        if node.type == "list":
            kids = node.children
            for i in range(1, len(kids) - 1):
                op = kids[i].type
                left, right = kids[i - 1], kids[i + 1]
                if contains(right, frozenset()) and not contains(left, frozenset()):
                    name = command_name(left) if left.type == "command" else ""
                    negated = left.type == "negated_command"
                    inner = left.named_children[0] if negated and left.named_children else None
                    inner_name = command_name(inner) if inner is not None and inner.type == "command" else ""
                    always_true = name in _ALWAYS_TRUE or (negated and inner_name in _ALWAYS_FALSE)
                    always_false = name in _ALWAYS_FALSE or (negated and inner_name in _ALWAYS_TRUE)
                    if (op == "||" and always_true) or (op == "&&" and always_false):
                        unreachable.append(
                            Construct(_line(node), _short(node), f"the part after `{op}` never runs")
                        )
        elif node.type in ("if_statement", "while_statement"):
            cond = node.child_by_field_name("condition")
            if cond is not None and cond.type == "command":
                name = command_name(cond)
                body_has = any(
                    contains(c, frozenset())
                    for c in node.named_children
                    if c is not cond and c.type not in ("elif_clause", "else_clause")
                )
                if name in _ALWAYS_FALSE and body_has:
                    unreachable.append(Construct(_line(node), _short(node), "its condition is always false"))
                if node.type == "if_statement" and name in _ALWAYS_TRUE and not body_has:
                    unreachable.append(
                        Construct(
                            _line(node), _short(node), "its condition is always true; the branch never runs"
                        )
                    )

    def walk(statements: list[Any], in_function: bool, seen: frozenset[str]) -> bool:
        for st in statements:
            if st.type in ("comment", "heredoc_body", "function_definition"):
                continue
            if not contains(st, seen):
                exits.extend(_exits(st, functions, in_function, seen))
                continue
            guard(st)
            if st.type == "command":
                words = _command_words(st)
                if is_target(words):
                    return True
                for word in words:
                    if word in functions and word not in seen:
                        body = functions[word].child_by_field_name("body")
                        if contains(body, seen | {word}):
                            return walk(list(body.named_children), True, seen | {word})
                return True
            return walk(list(st.named_children), in_function, seen)
        return False

    has_target = walk(list(root.named_children), False, frozenset())
    in_uncalled = False
    if not has_target:
        called = structure(text).called
        for name, node in functions.items():
            if name not in called:
                body = node.child_by_field_name("body")
                if body is not None and contains(body, frozenset({name})):
                    in_uncalled = True
    return Reachability(has_target, in_uncalled, tuple(exits), tuple(unreachable))
