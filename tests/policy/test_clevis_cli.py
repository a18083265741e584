"""The readers of the Tang unlock mode's command lines (no gRPC): clevis' LUKS subcommands and
their getopts options, where a command's stdout goes, cryptsetup's token actions and key slots,
and the LUKS facts that join them (which passphrase reaches which reader)."""

from __future__ import annotations

import pytest
from analysis.clevis_cli import ClevisCall, find_clevis, stdout_sink
from analysis.cryptsetup_cli import CryptsetupCall, parse_cryptsetup, reads_key_on_stdin
from analysis.luks import CommandLuks, analyze_command
from analysis.shell_reading.expansion import SimpleCommand, parse_program
from analysis.shell_reading.lexer import tokenize
from analysis.shell_reading.wrappers import strip_wrappers
from analysis.stack import Resource

from components.at_rest.luks_scripts import render_program, volume_spec
from components.settings import parse_settings
from components.shell import invocation

pytestmark = pytest.mark.unit

PARAMETERS = "EP_SOURCE='/dev/vdb'\nEP_TANG_CONFIG='{\"t\":1}'\nslot=2\nid=0\n"


def _commands(text: str) -> list[SimpleCommand]:
    return parse_program(PARAMETERS + text).all_commands()


def _clevis(text: str) -> ClevisCall | None:
    for c in _commands(text):
        call = find_clevis(strip_wrappers(c.argv), c, "create")
        if call is not None:
            return call
    return None


def _cryptsetup(text: str) -> CryptsetupCall | None:
    for c in _commands(text):
        argv = strip_wrappers(c.argv)
        for idx, w in enumerate(argv):
            if w == "cryptsetup":
                return parse_cryptsetup(argv, idx, c, "create")
    return None


def _facts(text: str) -> CommandLuks:
    return analyze_command(Resource("urn:x::c", "command:local:Command", "c", {"create": PARAMETERS + text}))


@pytest.mark.parametrize(
    ("line", "subcommand", "options", "flags", "operands"),
    [
        (
            'ep_with_key "$EP_KEY" clevis luks bind -y -k - -d "$EP_SOURCE" sss "$EP_TANG_CONFIG"',
            "bind",
            {"k": "-", "d": "/dev/vdb"},
            {"y"},
            ["sss", '{"t":1}'],
        ),
        ('clevis luks pass -d "$EP_SOURCE" -s "$slot"', "pass", {"d": "/dev/vdb", "s": "2"}, set(), []),
        (
            'clevis luks unbind -f -d "$EP_SOURCE" -s "$slot"',
            "unbind",
            {"d": "/dev/vdb", "s": "2"},
            {"f"},
            [],
        ),
        ('clevis luks list -d "$EP_SOURCE"', "list", {"d": "/dev/vdb"}, set(), []),
        (
            "timeout 30 clevis luks unlock -d /dev/vdc -n ep-app-db",
            "unlock",
            {"d": "/dev/vdc", "n": "ep-app-db"},
            set(),
            [],
        ),
        # getopts spellings: clustered flags, a value attached, `--`, the dispatcher's target
        (
            "clevis luks bind -fyk- -d/dev/vdb -- tang '{}'",
            "bind",
            {"k": "-", "d": "/dev/vdb"},
            {"f", "y"},
            ["tang", "{}"],
        ),
        (
            "/usr/bin/clevis-luks-bind -k /etc/k -d /dev/vdb tang '{}'",
            "bind",
            {"k": "/etc/k", "d": "/dev/vdb"},
            set(),
            ["tang", "{}"],
        ),
        (
            "sudo -n /usr/bin/clevis luks regen -q -d /dev/vdb -s 1",
            "regen",
            {"d": "/dev/vdb", "s": "1"},
            {"q"},
            [],
        ),
    ],
)
def test_clevis_luks_calls_are_read_as_getopts_reads_them(
    line: str, subcommand: str, options: dict[str, str], flags: set[str], operands: list[str]
) -> None:
    call = _clevis(line)
    assert call is not None
    assert call.subcommand == subcommand
    assert {k: str(v) for k, v in call.options.items()} == options
    assert call.flags == flags
    assert [str(w) for w in call.operands] == operands


@pytest.mark.parametrize(
    "line",
    [
        "command -v clevis",
        "clevis encrypt tang '{}' < /dev/null",
        "clevis luks",
        "echo clevis luks bind -k /tmp/k",
    ],
)
def test_other_clevis_words_are_not_luks_calls(line: str) -> None:
    assert _clevis(line) is None


@pytest.mark.parametrize(
    ("line", "key_file", "reads", "prints"),
    [
        ("clevis luks bind -k - -d /dev/vdb tang '{}'", "-", True, False),
        ("clevis luks bind -d /dev/vdb tang '{}'", None, True, False),
        ("clevis luks pass -d /dev/vdb -s 1", None, False, True),
        ("clevis luks unlock -d /dev/vdb -n x", None, False, False),
    ],
)
def test_which_subcommand_reads_or_prints_a_key(
    line: str, key_file: str | None, reads: bool, prints: bool
) -> None:
    call = _clevis(line)
    assert call is not None
    assert (None if call.key_file is None else str(call.key_file)) == key_file
    assert (call.reads_key, call.prints_key) == (reads, prints)


@pytest.mark.parametrize(
    ("text", "kind", "target"),
    [
        ("p > /run/k", "file", "/run/k"),
        ("p >> /run/k", "file", "/run/k"),
        ("p >| /run/k", "file", "/run/k"),
        ("p 1> /run/k", "file", "/run/k"),
        ("p &> /run/k", "file", "/run/k"),
        ("p &>> /run/k", "file", "/run/k"),
        ("p >&/run/k", "file", "/run/k"),
        ("p > /dev/null", "discarded", "/dev/null"),
        ("p >&-", "discarded", "-"),
        ("p >&2", "descriptor", "2"),
        ("p 2> /run/err", "stdout", None),
        ("p | consumer", "pipe", None),
        ("p > /run/k | consumer", "file", "/run/k"),
        ("p", "stdout", None),
    ],
)
def test_where_stdout_goes(text: str, kind: str, target: str | None) -> None:
    commands = parse_program(text).commands
    sink = stdout_sink(commands[0], commands)
    assert sink.kind == kind
    assert (None if sink.target is None else str(sink.target)) == target
    if kind == "pipe":
        assert sink.consumer is commands[1]


def test_ampersand_redirection_is_not_a_background_job() -> None:
    kinds = [(t.kind, t.value, t.fd) for t in tokenize("a &>/run/k; b &>> /run/l; c & d")]
    assert ("REDIR", ">", "&") in kinds and ("REDIR", ">>", "&") in kinds
    assert ("OP", "&", "") in kinds  # `c & d` is still a background job


@pytest.mark.parametrize(
    ("line", "token_action", "options", "reads_stdin_key"),
    [
        (
            'printf \'%s\' "$json" | cryptsetup token import --json-file=- "$EP_SOURCE"',
            "import",
            {"--json-file": "-"},
            False,
        ),
        ('cryptsetup token remove --token-id "$id" "$EP_SOURCE"', "remove", {"--token-id": "0"}, False),
        ('cryptsetup token export --token-id "$id" "$EP_SOURCE"', "export", {"--token-id": "0"}, False),
        ('cryptsetup token "$what" "$EP_SOURCE"', None, {}, True),  # unknown: fail closed
        ('cryptsetup luksDump "$EP_SOURCE"', None, {}, False),
        ('cryptsetup luksDump --dump-volume-key --batch-mode "$EP_SOURCE"', None, {}, True),
        (
            'cryptsetup open --test-passphrase --type luks2 --key-slot "$slot" --key-file=- "$EP_SOURCE"',
            None,
            {"--type": "luks2", "--key-slot": "2", "--key-file": "-"},
            True,
        ),
        ('cryptsetup luksKillSlot -S 3 "$EP_SOURCE"', None, {"--key-slot": "3"}, True),
    ],
)
def test_cryptsetup_token_actions_and_key_slots(
    line: str, token_action: str | None, options: dict[str, str], reads_stdin_key: bool
) -> None:
    call = _cryptsetup(line)
    assert call is not None
    assert call.token_action == token_action
    assert {k: str(v) for k, v in call.options.items()} == options
    assert reads_key_on_stdin(call) is reads_stdin_key


def test_a_binding_passphrase_piped_into_cryptsetup_reaches_a_key_reader() -> None:
    facts = _facts(
        'clevis luks pass -d "$EP_SOURCE" -s "$slot" | cryptsetup open --test-passphrase --type luks2 '
        '--key-slot "$slot" --key-file=- "$EP_SOURCE"\n'
        'clevis luks pass -d "$EP_SOURCE" -s 1 | clevis luks bind -k - -d "$EP_SOURCE" tang \'{}\'\n'
        'clevis luks pass -d "$EP_SOURCE" -s 1 | clevis luks bind -k /etc/k -d "$EP_SOURCE" tang \'{}\'\n'
        'clevis luks pass -d "$EP_SOURCE" -s 1 | cryptsetup token import "$EP_SOURCE"\n'
    )
    assert [(o.sink.kind, o.to_key_reader) for o in facts.key_outputs] == [
        ("pipe", True),
        ("pipe", True),
        ("pipe", False),
        ("pipe", False),
    ]
    assert facts.is_luks_command


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("printf '%s' '{\"type\":\"ep-binding\"}' | cryptsetup token import --json-file=- /dev/vdb", False),
        ('cryptsetup token import /dev/vdb <<< \'{"type":"ep-binding"}\'', False),
        ("echo -n 'hunter2-long' | cryptsetup luksDump /dev/vdb", False),
        ("echo -n 'hunter2-long' | cryptsetup luksDump --dump-volume-key /dev/vdb", True),
        ("printf '%s' 'correct-horse' | clevis luks bind -k - -d /dev/vdb tang '{}'", True),
        ("clevis luks bind -d /dev/vdb tang '{}' <<< 'correct-horse'", True),
        ("echo correct-horse > /run/k; clevis luks bind -k /run/k -d /dev/vdb tang '{}'", True),
        ("clevis luks bind -k <(echo correct-horse) -d /dev/vdb tang '{}'", True),
        ("with_key 'correct-horse' clevis luks bind -k - -d /dev/vdb tang '{}'", True),
        ("IFS= read -r KEY; printf '%s' \"$KEY\" | clevis luks bind -k - -d /dev/vdb tang '{}'", False),
        ("printf '%s' 'not-read' | clevis luks bind -e 0 -d /dev/vdb tang '{}'", False),
    ],
)
def test_key_literals_fed_to_cryptsetup_and_clevis(text: str, literal: bool) -> None:
    assert bool(_facts(text).literals) is literal


def test_a_pipeline_continued_on_the_next_line_is_one_pipeline() -> None:
    facts = _facts(
        'clevis luks pass -d "$EP_SOURCE" -s 1 |\n'
        '  cryptsetup open --test-passphrase --type luks2 --key-slot 1 --key-file=- -- "$EP_SOURCE" >/dev/null 2>&1\n'
    )
    assert [(o.sink.kind, o.to_key_reader) for o in facts.key_outputs] == [("pipe", True)]


def test_a_list_of_tool_names_runs_no_clevis() -> None:
    assert (
        _clevis("ep_require_tools clevis clevis-luks-bind clevis-luks-pass clevis-luks-unbind jose") is None
    )
    assert _facts("ep_require_tools cryptsetup clevis clevis-luks-bind clevis-luks-pass").literals == []


TANG_SETTINGS = {
    "encryption": {
        "unlockAtBoot": "tang",
        "tang": {
            "servers": [
                {
                    "url": "http://tang-1.internal.example:7500",
                    "thumbprint": "rMNPpsLf3JJBWwcMWoRPrwyz-yQT1M9UxEz86vkr6lA",
                }
            ],
            "threshold": 1,
        },
    }
}


@pytest.mark.parametrize("program", ["ensure", "delete", "reencrypt"])
def test_our_rendered_tang_programs_keep_every_key_on_stdin(program: str) -> None:
    settings = parse_settings(TANG_SETTINGS)
    spec = volume_spec("app-db", settings.volumes["app-db"], settings.encryption, project="p", stack="dev")
    text = invocation(render_program(program, spec), "n", become=True)
    facts = analyze_command(Resource("urn:x::c", "command:remote:Command", "c", {"create": text}))
    assert {c.subcommand for c in facts.clevis} >= {"bind", "pass", "unbind", "list"}
    bind = next(c for c in facts.clevis if c.subcommand == "bind")
    assert str(bind.key_file) == "-"
    assert [(o.sink.kind, o.to_key_reader) for o in facts.key_outputs] == [("pipe", True)]
    assert {c.token_action for c in facts.calls if c.action == "token"} >= {"import", "remove"}
    assert facts.literals == []
