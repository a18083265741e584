"""The one check every rule's test file runs over its violating programs
(tests/support/programs/<rule>.py): rejected by the right policy, on the right resource, in preview
and update; a program that is the compliant baseline plus one mistake is rejected by that policy
only."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs import Program, all_programs


def programs_in(*modules: ModuleType) -> list[Program]:
    """The registered programs defined in `modules` (each a tests/support/programs module)."""
    names = {m.__name__ for m in modules}
    return [p for p in all_programs() if p.run.__module__ in names]


def cases(programs: list[Program]) -> list[Any]:
    """One case per program and variant (preview, update), named `<module>.<program>[<variant>]`."""
    return [pytest.param(p, v, id=f"{p.name}[{v}]") for p in programs for v in p.variants]


def assert_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    captured = capture(
        program.run, stack=program.stack, config=program.stack_config, preview=variant == "preview"
    )
    verdict = evaluate(captured, file_config=program.pack_config or None, pack=pack)
    got = verdict.policies("mandatory")
    assert program.expect <= got, f"{program.note}\n{verdict.describe()}"
    if program.exact:
        assert got == program.expect, f"other policies fired:\n{verdict.describe()}"
    if program.resource is not None:
        named = {d.resource_name for d in verdict.mandatory() if d.policy in program.expect}
        assert program.resource in named, verdict.describe()
    assert not [d for d in verdict.diagnostics if "could not evaluate" in d.message], verdict.describe()
    for d in verdict.mandatory():
        assert "Fix: " in d.message, d.message
