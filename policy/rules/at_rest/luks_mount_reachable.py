"""The LUKS part of a program runs: nothing before it ends the program successfully.

A Command that opens and mounts a LUKS mapping on P is what makes a volume bound under P
encrypted. If the program can finish successfully before that mount (`exit`, `exit 0`, `return`
outside a function, `exec <program>`, `kill $$`, also inside functions it calls first), or the
mount sits behind a guard that never lets it run (`true || mount ...`, `false && ...`, `if false`)
or in a function the program never calls, the Command succeeds, the volume is created, and
Docker binds the bare directory on the unencrypted disk. `return` inside functions and failing
exits (`exit 1`) are fine: the first only leaves a function, the second fails the Command.
A program that does not parse as bash cannot be judged: fail closed.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis import bash_grammar
from analysis.luks import analyze_command
from analysis.rule import Context, Finding, Rule
from analysis.shell_reading.expansion import parse_program
from analysis.shell_reading.wrappers import SHELLS
from analysis.stack import COMMANDS

NAME = "luks-mount-reachable"
FIX = "remove the early exit or guard so that the program always reaches the mount of the LUKS mapping"


def _is_mount(words: list[str]) -> bool:
    if not words:
        return False
    name = words[0].rsplit("/", 1)[-1]
    return name == "mount" and not {"--bind", "-B", "--rbind", "--move", "-M"} & set(words)


def _is_luks_step(words: list[str]) -> bool:
    """The mount itself, or a `bash -c` that holds it (judged again inside)."""
    if _is_mount(words):
        return True
    return bool(words) and words[0].rsplit("/", 1)[-1] in SHELLS and "mount" in " ".join(words)


def _programs(text: str) -> list[str]:
    out = [text]
    for nested in parse_program(text).nested:
        out.extend(_programs(nested.text))
    return out


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    facts = analyze_command(r)
    providing = {m.field for m in facts.mounts if str(m.source).startswith("/dev/mapper/")}
    if not facts.mappings or not providing:
        return
    for field in sorted(providing):
        text = r.props.get(field)
        if not isinstance(text, str):
            continue
        for program in _programs(text):
            shape = bash_grammar.structure(program)
            if not shape.parsed:
                yield Finding(
                    r,
                    field,
                    "holds a program the bash grammar cannot parse ("
                    + "; ".join(e.where() for e in shape.errors)
                    + "), so the pack cannot tell whether the LUKS mount runs (fail closed)",
                    "fix the syntax",
                    "parse",
                )
                continue
            reach = bash_grammar.reachability(program, _is_luks_step)
            if reach.target_in_uncalled_function and not reach.has_target:
                yield Finding(
                    r,
                    field,
                    "mounts the LUKS mapping only in a function the program never calls",
                    "call the function that mounts the mapping",
                    "uncalled",
                )
            for exit_ in reach.exits_before:
                yield Finding(
                    r,
                    field,
                    f"can finish before it mounts the LUKS mapping: {exit_.where()}; the Command then "
                    "succeeds and the volume binds the bare directory",
                    FIX,
                    f"early-exit:{exit_.line}",
                )
            for guard in reach.unreachable:
                yield Finding(
                    r,
                    field,
                    f"never runs its LUKS mount: {guard.where()}",
                    FIX,
                    f"unreachable:{guard.line}",
                )


RULE = Rule(
    name=NAME,
    description=(
        "LUKS mounts are reachable: no early exit, exec or always-false guard before a Command's LUKS mount."
    ),
    enforcement="mandatory",
    scope="resource",
    resource_types=COMMANDS,
    check=check,
)
