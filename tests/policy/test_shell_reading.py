"""The pack's shell reading: the bash grammar parses the project's rendered LUKS programs, the
structure it reports (calls, early exits, guards), what a program does to the host, and the
exception mechanism for hidden workloads over the Analyzer protocol."""

from __future__ import annotations

import pytest
from analysis import bash_grammar
from analysis.command_effects import program_effects
from analysis.shell_reading.expansion import parse_program

from components.at_rest.luks_scripts import PROGRAMS, render_program, volume_spec
from components.settings import parse_settings
from components.shell import invocation
from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs.commands_create_no_workloads import socat_relay

pytestmark = pytest.mark.policy


def _is_mount(words: list[str]) -> bool:
    return bool(words) and words[0] == "mount" and "--bind" not in words


def _rendered(program: str) -> str:
    settings = parse_settings({})
    spec = volume_spec("app-db", settings.volumes["app-db"], settings.encryption, project="p", stack="dev")
    return render_program(program, spec)


@pytest.mark.parametrize("program", PROGRAMS)
def test_the_grammar_parses_every_rendered_luks_program(program: str) -> None:
    text = _rendered(program)
    shape = bash_grammar.structure(text)
    assert bash_grammar.available()
    assert shape.parsed, shape.errors
    assert shape.called <= shape.functions and shape.called
    # the wrapper the components add (sudo -n bash -c '<program>' name) parses too, and its
    # program is the same text once unwrapped
    wrapped = invocation(text, "n", become=True)
    assert bash_grammar.structure(wrapped).parsed
    assert [p.text for p in parse_program(wrapped).nested] == [text]


def test_the_rendered_ensure_program_reaches_its_mount_without_an_early_exit() -> None:
    reach = bash_grammar.reachability(_rendered("ensure"), _is_mount)
    assert reach.has_target and not reach.exits_before and not reach.unreachable


def test_the_rendered_programs_do_nothing_the_rules_reject() -> None:
    for program in PROGRAMS:
        effects = program_effects(invocation(_rendered(program), "n", become=True), "create")
        assert effects.unknown == (), (program, effects.unknown)
        assert effects.side_channels == ()
    ensure = program_effects(_rendered("ensure"), "create")
    ops = {(op.kind, str(op.target)) for op in ensure.path_ops}
    assert ("mount", "/srv/encrypted/app-db") in ops
    assert all(op.target is not None and op.target.resolved for op in ensure.path_ops)


@pytest.mark.parametrize(
    ("text", "exits", "unreachable", "reached"),
    [
        ("mount /dev/mapper/a /p\n", 0, 0, True),
        ("exit 0\nmount /dev/mapper/a /p\n", 1, 0, True),
        ("exit 3\nmount /dev/mapper/a /p\n", 0, 0, True),  # fails the Command: fine
        ("( exit 0 )\nmount /dev/mapper/a /p\n", 0, 0, True),  # a subshell only
        ("x=$(exit 0)\nmount /dev/mapper/a /p\n", 0, 0, True),
        ("f() { return 0; }\nf\nmount /dev/mapper/a /p\n", 0, 0, True),
        ("return\nmount /dev/mapper/a /p\n", 1, 0, True),
        ("kill -9 $$\nmount /dev/mapper/a /p\n", 1, 0, True),
        ("exec 0</dev/null\nmount /dev/mapper/a /p\n", 0, 0, True),
        ("false && mount /dev/mapper/a /p\n", 0, 1, True),
        ("! true && mount /dev/mapper/a /p\n", 0, 1, True),
        ("while false; do mount /dev/mapper/a /p; done\n", 0, 1, True),
        ("m() { mount /dev/mapper/a /p; }\n", 0, 0, False),
    ],
)
def test_reachability(text: str, exits: int, unreachable: int, reached: bool) -> None:
    reach = bash_grammar.reachability(text, _is_mount)
    assert (len(reach.exits_before), len(reach.unreachable), reach.has_target) == (
        exits,
        unreachable,
        reached,
    )


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("mount --bind /a /srv/x", {("bind", "/srv/x")}),
        ("mount -o remount,rw /srv/x", {("mount", "/srv/x")}),
        ("umount -l /srv/x /srv/y", {("unmount", "/srv/x"), ("unmount", "/srv/y")}),
        ("ln -sfn /plain /srv/x/data", {("symlink", "/srv/x/data")}),
        ("ln -s -t /srv/x /plain", {("symlink", "/srv/x")}),
        ("tool() { printf 'umount'; }\nT=$(tool)\n\"$T\" /srv/x", {("unmount", "/srv/x")}),
        ("command -v mount >/dev/null", set()),
    ],
)
def test_path_operations(text: str, kinds: set[tuple[str, str]]) -> None:
    effects = program_effects(text, "create")
    assert {(op.kind, str(op.target)) for op in effects.path_ops} == kinds
    assert effects.unknown == ()


@pytest.mark.parametrize(
    ("text", "subjects"),
    [
        ("docker ps", set()),
        ("docker -H unix:///run/d.sock update --pids-limit 64 app", set()),
        ("docker update --restart always app", {"docker:update"}),
        ("docker volume ls", set()),
        ("docker volume create x", {"docker:volume:create"}),
        ("docker container run alpine", {"docker:run"}),
        ("docker-compose up -d", {"docker:compose:up"}),
        ("iptables -w -I INPUT 1 -j FW", set()),
        ("iptables -t nat -A PREROUTING -j REDIRECT --to-ports 80", {"nat:REDIRECT"}),
        ("ncat -lk 8080", {"netcat:listen"}),
        ('sw() { docker -H unix:///x "$@"; }\nsw version\nsw info', set()),
        ('sw() { docker -H unix:///x "$@"; }\nsw volume create v', {"docker:volume:create"}),
    ],
)
def test_side_channels(text: str, subjects: set[str]) -> None:
    assert {c.subject for c in program_effects(text, "create").side_channels} == subjects


def test_a_reviewed_exception_covers_a_hidden_workload(pack: PolicyPackProcess) -> None:
    captured = capture(socat_relay)
    assert "commands-create-no-workloads" in evaluate(captured, pack=pack).policies("mandatory")
    reviewed = {
        "commands-create-no-workloads": {
            "exceptions": [
                {
                    "resource": "relay",
                    "finding": "socat",
                    "reason": "migration relay, reviewed by ops on 2026-11-30",
                }
            ]
        }
    }
    assert (
        "commands-create-no-workloads" not in evaluate(captured, file_config=reviewed, pack=pack).policies()
    )
    wrong_subject = {
        "commands-create-no-workloads": {
            "exceptions": [
                {"resource": "relay", "finding": "docker:*", "reason": "reviewed docker CLI use only"}
            ]
        }
    }
    assert "commands-create-no-workloads" in evaluate(
        captured, file_config=wrong_subject, pack=pack
    ).policies("mandatory")
