"""The lexer of the shell reader: splits program text into tokens (words, operators,
redirections with their here-document bodies, newlines), respecting quotes and command and process
substitutions. It expands nothing: a word token is its raw text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
NAME_RE = re.compile(NAME)
ASSIGNMENT = re.compile(rf"^({NAME})(\+?)=(.*)$", re.S)
_REDIRECTION = re.compile(r"(\d*)(<<<|<<-|<<|>>|>&|<&|>\||<>|<(?!\()|>(?!\())")

_OPERATORS = ("&&", "||", ";;", "|&", ";", "&", "|", "(", ")")
_REDIRS = ("<<<", "<<-", "<<", ">>", ">&", "<&", ">|", "<>", "<", ">")


@dataclass
class Token:
    kind: str  # WORD, OP, REDIR, NL
    value: str
    fd: str = ""
    heredoc: str | None = None


def read_balanced(s: str, i: int, open_ch: str, close_ch: str) -> int:
    """s[i] is just after an opening bracket; returns the index after the matching close."""
    depth = 1
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == "'":
            j = s.find("'", i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == '"':
            i = read_dquote(s, i + 1)
            continue
        if c == open_ch:
            depth += 1
        elif c == close_ch:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def _skip_expansion(s: str, i: int) -> int | None:
    """If s[i] opens `$(...)` (or `$((...))`), `${...}` or a backquote, the index just after its
    end; otherwise None. Quoted text inside is skipped whole, so brackets in it do not count."""
    if s.startswith("$(", i):
        return read_balanced(s, i + 2, "(", ")")
    if s.startswith("${", i):
        return read_balanced(s, i + 2, "{", "}")
    if s[i] == "`":
        j = s.find("`", i + 1)
        return len(s) if j < 0 else j + 1
    return None


def read_dquote(s: str, i: int) -> int:
    """s[i] is just after an opening double quote; returns the index after the closing one."""
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        end = _skip_expansion(s, i)
        i = i + 1 if end is None else end
    return n


def tokenize(s: str) -> list[Token]:
    toks: list[Token] = []
    pending_heredocs: list[tuple[Token, str, bool]] = []
    i, n = 0, len(s)
    at_word_start = True
    while i < n:
        c = s[i]
        if c in " \t\r":
            i += 1
            at_word_start = True
            continue
        if c == "\\" and i + 1 < n and s[i + 1] == "\n":
            i += 2
            continue
        if c == "\n":
            toks.append(Token("NL", "\n"))
            i += 1
            for tok, delim, strip_tabs in pending_heredocs:
                body_lines = []
                while i < n:
                    j = s.find("\n", i)
                    line = s[i:] if j < 0 else s[i:j]
                    i = n if j < 0 else j + 1
                    check = line.lstrip("\t") if strip_tabs else line
                    if check == delim:
                        break
                    body_lines.append(line)
                tok.heredoc = "\n".join(body_lines) + ("\n" if body_lines else "")
            pending_heredocs = []
            at_word_start = True
            continue
        if c == "#" and at_word_start:
            j = s.find("\n", i)
            i = n if j < 0 else j
            continue
        # redirections, optionally with a file descriptor number in front
        m = _REDIRECTION.match(s, i) if c in "<>0123456789" else None
        if m and (m.group(1) == "" or at_word_start):
            fd, op = m.group(1), m.group(2)
            i = m.end()
            toks.append(Token("REDIR", op, fd=fd))
            at_word_start = True
            if op in ("<<", "<<-"):
                # the delimiter word follows
                while i < n and s[i] in " \t":
                    i += 1
                start = i
                i = _read_word(s, i)
                raw = s[start:i]
                delim = raw.replace("'", "").replace('"', "").replace("\\", "")
                toks.append(Token("WORD", raw))
                pending_heredocs.append((toks[-2], delim, op == "<<-"))
            continue
        if s.startswith("&>", i):
            # `&>file` and `&>>file` send stdout and stderr to the file (not `&` then `>`)
            op = ">>" if s.startswith("&>>", i) else ">"
            i += len(op) + 1
            toks.append(Token("REDIR", op, fd="&"))
            at_word_start = True
            continue
        op = next((o for o in _OPERATORS if s.startswith(o, i)), None) if c in "&|;()" else None
        if op is not None:
            toks.append(Token("OP", op))
            i += len(op)
            at_word_start = True
            continue
        start = i
        i = _read_word(s, i)
        if i == start:  # defensive: never loop forever
            i += 1
        toks.append(Token("WORD", s[start:i]))
        at_word_start = False
    return toks


def _read_word(s: str, i: int) -> int:
    n = len(s)
    while i < n:
        c = s[i]
        if c in " \t\r\n;&|)":
            return i
        if c == "(":
            if i > 0 and s[i - 1] in "<>":
                i = read_balanced(s, i + 1, "(", ")")
                continue
            if i > 0 and s[i - 1] == "=":  # array assignment NAME=( ... )
                i = read_balanced(s, i + 1, "(", ")")
                continue
            return i
        if c in "<>":
            if i + 1 < n and s[i + 1] == "(":  # process substitution
                i = read_balanced(s, i + 2, "(", ")")
                continue
            return i
        if c == "\\":
            i += 2
            continue
        if c == "'":
            j = s.find("'", i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == '"':
            i = read_dquote(s, i + 1)
            continue
        end = _skip_expansion(s, i)
        i = i + 1 if end is None else end
    return n
