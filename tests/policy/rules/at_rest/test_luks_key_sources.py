"""Rule luks-key-sources (policy/rules/at_rest/luks_key_sources.py): its violating programs
(tests/support/programs/luks_key_sources.py) are rejected; then what it accepts and names for
clevis, every host-program line of the Tang unlock mode included."""

from __future__ import annotations

import pytest

from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs import Program
from tests.support.programs import luks_key_sources as programs
from tests.support.programs.baseline import app, internal_network, luks_volume, pids_limit
from tests.support.programs.luks_key_sources import tang_program
from tests.support.rejections import assert_rejected, cases, programs_in

pytestmark = pytest.mark.policy

PROGRAMS = programs_in(programs)


@pytest.mark.parametrize(("program", "variant"), cases(PROGRAMS))
def test_violating_program_is_rejected(pack: PolicyPackProcess, program: Program, variant: str) -> None:
    assert_rejected(pack, program, variant)


RULE = "luks-key-sources"
# Every host-program line of the Tang unlock mode (the network-bound unlock design), as the LUKS
# programs carry them: keys only on stdin, a binding's passphrase piped straight into cryptsetup.
TANG_LINES = [
    'with_key "$KEY" clevis luks bind -y -k - -d "$DEVICE" sss "$TANG_CONFIG"',
    'clevis luks pass -d "$DEVICE" -s "$slot" | cryptsetup open --test-passphrase --type luks2 '
    '--key-slot "$slot" --key-file=- "$DEVICE"',
    'clevis luks unbind -f -d "$DEVICE" -s "$slot"',
    'clevis luks list -d "$DEVICE"',
    'printf \'%s\' "$json" | cryptsetup token import --json-file=- "$DEVICE"',
    'cryptsetup token remove --token-id "$id" "$DEVICE"',
    'cryptsetup token export --token-id "$id" "$DEVICE"',
    'cryptsetup luksDump "$DEVICE"',
    'timeout 30 clevis luks unlock -d "$DEVICE" -n "$MAPPER"',
]
# What else the key sources accept from clevis.
ALSO_ACCEPTED = [
    # no -k: bind reads the existing passphrase from stdin
    'printf \'%s\' "$KEY" | clevis luks bind -d "$DEVICE" tang "$TANG_CONFIG"',
    'clevis luks bind -k /etc/encrypted-platform/keys/appdata.key -d "$DEVICE" sss "$TANG_CONFIG"',
    'clevis luks bind -k <(printf \'%s\' "$KEY") -d "$DEVICE" sss "$TANG_CONFIG"',
    'clevis luks bind -e 0 -d "$DEVICE" sss "$TANG_CONFIG"',
    'clevis luks pass -d "$DEVICE" -s 1 >/dev/null',
    'clevis luks pass -d "$DEVICE" -s 1 | with_key "$KEY" clevis luks bind -k - -d "$DEVICE" sss "$TANG_CONFIG"',
    'clevis luks pass -d "$DEVICE" -s 1 | cryptsetup luksAddKey --pbkdf argon2id "$DEVICE" <(printf \'%s\' "$KEY")',
    'printf \'%s\' \'{"type":"ep-binding","keyslots":[]}\' | cryptsetup token import "$DEVICE"',
    'clevis luks regen -q -d "$DEVICE" -s 1',
    'clevis luks report -q -d "$DEVICE" -s 1',
]


def _tang_stack(*lines: str) -> None:
    net = internal_network("app-net")
    preamble = 'slot=1\nid=0\njson=\'{"type":"ep-binding"}\'\n'
    _cmd, vol = luks_volume("appdata", program=tang_program(preamble, *lines))
    pids_limit(app(net, vol), "app")


@pytest.mark.parametrize("variant", ["preview", "update"])
def test_every_line_of_the_tang_mode_passes_every_policy(pack: PolicyPackProcess, variant: str) -> None:
    verdict = evaluate(capture(lambda: _tang_stack(*TANG_LINES), preview=variant == "preview"), pack=pack)
    assert verdict.diagnostics == [], verdict.describe()


@pytest.mark.parametrize("line", TANG_LINES + ALSO_ACCEPTED)
def test_a_key_on_stdin_or_from_a_binding_is_accepted(pack: PolicyPackProcess, line: str) -> None:
    verdict = evaluate(capture(lambda: _tang_stack(line)), pack=pack)
    assert verdict.mandatory() == [], verdict.describe()


@pytest.mark.parametrize(
    ("line", "subject"),
    [
        ('clevis luks bind -k /root/old.key -d "$DEVICE" sss "$TANG_CONFIG"', "key-source:/root/old.key"),
        ('clevis luks bind -yk/tmp/k -d "$DEVICE" sss "$TANG_CONFIG"', "key-source:/tmp/k"),
        ('clevis luks bind -k "$KEY_FILE" -d "$DEVICE" sss "$TANG_CONFIG"', "key-source:unknown"),
        ('clevis luks bind -k /dev/stdin -d "$DEVICE" sss "$TANG_CONFIG"', "key-source:/dev/stdin"),
        ('clevis luks pass -d "$DEVICE" -s 1 >| /run/k', "key-sink:/run/k"),
        ('clevis luks pass -d "$DEVICE" -s 1 1> "$OUT"', "key-sink:unknown"),
        ('clevis luks pass -d "$DEVICE" -s 1 | base64', "key-sink:pipe:base64"),
        (
            'clevis luks pass -d "$DEVICE" -s 1 | cryptsetup open --key-file /etc/encrypted-platform/keys/k "$DEVICE" x',
            "key-sink:pipe:cryptsetup",
        ),
        (
            'clevis luks pass -d "$DEVICE" -s 1 | cryptsetup token import "$DEVICE"',
            "key-sink:pipe:cryptsetup",
        ),
        ('sudo clevis luks pass -d "$DEVICE" -s 1 >&2', "key-sink:descriptor"),
        ('clevis luks pass -d "$DEVICE" -s 1 | cryptsetup open --key-file=- "$DEVICE" x >/dev/null', ""),
    ],
)
def test_clevis_keys_outside_stdin_are_named(pack: PolicyPackProcess, line: str, subject: str) -> None:
    verdict = evaluate(capture(lambda: _tang_stack(line)), pack=pack)
    found = [d.message for d in verdict.by_policy(RULE)]
    if not subject:
        assert found == [], verdict.describe()
        return
    assert len(found) == 1 and f"[{subject}]" in found[0], verdict.describe()
