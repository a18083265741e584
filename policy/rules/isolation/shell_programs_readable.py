"""Every Command's program can be read: the pack fails closed on what it cannot prove.

The rules on LUKS mount points, early exits, key sources and hidden workloads judge what a
program runs. A program that does not parse as bash, or runs code the readers cannot see or
resolve (eval, source, a command whose name is only known at run time, a shell reading its
program from stdin or a file, `bash -c "$VAR"`, xargs, find -exec, another interpreter's inline
code, a function named like a command the rules read, PATH/IFS/BASH_ENV changes, a non-shell
interpreter or code-running variables in the Command's environment), could do any of those
things: it is a violation, with the construct and its line. A program unknown at preview is the
same.
"""

from __future__ import annotations

from collections.abc import Iterator

from analysis.command_effects import effects_of, environment_problems
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import COMMANDS

NAME = "shell-programs-readable"


def check(ctx: Context) -> Iterator[Finding]:
    r = ctx.resource
    assert r is not None
    effects = effects_of(r)
    for problem in environment_problems(r):
        yield Finding(
            r,
            problem.text,
            f"{problem.why}, so the pack cannot prove what the program does (fail closed)",
            "run the program with bash or sh and the default environment (secrets only on stdin)",
            f"unreadable:{problem.text.split('[')[0]}",
        )
    for field in effects.unknown_fields:
        yield unknown_finding(r, field, "what the program does on the host", f"program:{field}")
    for program in effects.programs:
        for construct in program.unknown[:5]:
            where = f"line {construct.line}: " if construct.line else ""
            yield Finding(
                r,
                program.field,
                f"{where}`{construct.text}` {construct.why}, so the pack cannot prove what it does (fail closed)",
                "write the step out as plain commands with literal or once-assigned arguments",
                f"unreadable:{construct.why}",
            )


RULE = Rule(
    name=NAME,
    description="Readable programs: every Command's program parses and runs only code the pack can see.",
    enforcement="mandatory",
    scope="resource",
    resource_types=COMMANDS,
    check=check,
)
