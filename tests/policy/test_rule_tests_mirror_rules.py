"""One policy, one check; tests mirror policies: every rule module policy/rules/<concern>/<rule>.py
has its test file tests/policy/rules/<concern>/test_<rule>.py, every file there names a rule
module, and every violating program is run by the test file of the rule it is named after."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.support.analyzer import POLICY_DIR
from tests.support.programs import Program, all_programs

pytestmark = pytest.mark.policy

RULES_DIR = POLICY_DIR / "rules"
RULE_TESTS_DIR = Path(__file__).parent / "rules"


def _modules(directory: Path) -> set[str]:
    """`<concern>/<module>` for every Python module below `directory` but the packages' own."""
    return {
        str(p.relative_to(directory).with_suffix(""))
        for p in directory.rglob("*.py")
        if p.name != "__init__.py"
    }


def _rule_modules() -> set[str]:
    return _modules(RULES_DIR)


def _rule_test_files() -> dict[str, str]:
    """The rule each test file names (`<concern>/<rule>`), by the file's `<concern>/<name>`."""
    return {
        name: str(Path(name).parent / Path(name).name.removeprefix("test_"))
        for name in _modules(RULE_TESTS_DIR)
    }


def test_every_rule_module_has_a_test_file_of_its_name() -> None:
    named = set(_rule_test_files().values())
    missing = sorted(
        f"tests/policy/rules/{Path(m).parent}/test_{Path(m).name}.py" for m in _rule_modules() - named
    )
    assert missing == [], f"rule modules without their test file: {missing}"


def test_every_rule_test_file_names_a_rule_module() -> None:
    rules = _rule_modules()
    orphans = sorted(
        f"tests/policy/rules/{name}.py"
        for name, rule in _rule_test_files().items()
        if not Path(name).name.startswith("test_") or rule not in rules
    )
    assert orphans == [], f"test files naming no rule module in policy/rules: {orphans}"


def test_every_violating_program_is_run_by_the_test_file_of_its_rule() -> None:
    runs: dict[str, list[str]] = {}
    for name, rule in sorted(_rule_test_files().items()):
        module = importlib.import_module("tests.policy.rules." + name.replace("/", "."))
        programs: list[Program] = getattr(module, "PROGRAMS", [])
        for program in programs:
            runs.setdefault(program.name, []).append(name)
            programs_module = program.name.split(".", 1)[0]
            rule_module = Path(rule).name
            assert programs_module == rule_module or programs_module.startswith(rule_module + "_"), (
                f"{name}.py runs {program.name}, a program not named after rule {rule}"
            )
    registered = {p.name for p in all_programs()}
    assert sorted(registered - runs.keys()) == [], "violating programs no rule's test file runs"
    assert {p: files for p, files in runs.items() if len(files) > 1} == {}, "programs run twice"
