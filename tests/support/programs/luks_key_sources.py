"""Rule luks-key-sources: LUKS keys read from files outside the key directories."""

from __future__ import annotations

from . import violation
from .baseline import app, internal_network, luks_program, luks_volume

RULE = "luks-key-sources"
LUKS = luks_program("/dev/vdb", "appdata", "/srv/appdata")
OPEN = 'cryptsetup status "$MAPPER" >/dev/null 2>&1 || printf \'%s\' "$KEY" | cryptsetup open --type luks2 --key-file=- "$DEVICE" "$MAPPER"'


def _with_open(replacement: str) -> None:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata", program=LUKS.replace(OPEN, replacement))
    app(net, vol)


@violation(RULE, resource="appdata-luks", exact=True)
def key_file_in_tmp() -> None:
    """The key read from /tmp."""
    _with_open('cryptsetup open --type luks2 --key-file /tmp/appdata.key "$DEVICE" "$MAPPER"')


@violation(RULE, resource="appdata-luks", exact=True)
def short_option_in_a_home_directory() -> None:
    """`-d` is --key-file too."""
    _with_open('cryptsetup open --type luks2 -d /root/appdata.key "$DEVICE" "$MAPPER"')


@violation(RULE, resource="appdata-luks", exact=True)
def process_substitution_reading_a_file() -> None:
    """A process substitution that reads a file: still a key file outside the key directory."""
    _with_open('cryptsetup open --type luks2 --key-file <(cat /var/tmp/k) "$DEVICE" "$MAPPER"')


@violation(RULE, resource="appdata-luks", exact=True)
def new_key_slot_from_a_file() -> None:
    """luksAddKey with the new key in a file in the working directory."""
    net = internal_network("app-net")
    program = (
        LUKS
        + 'printf \'%s\' "$KEY" | cryptsetup luksAddKey --pbkdf argon2id --key-file=- "$DEVICE" new.key\n'
    )
    _cmd, vol = luks_volume("appdata", program=program)
    app(net, vol)


# Network-bound unlock: a clevis binding beside the key slot the Command's stdin opens.
TANG_CONFIG = '{"t":1,"pins":{"tang":[{"url":"http://tang.example.test","thp":"abc123"}]}}'
WITH_KEY = 'with_key() {\n  local key=$1\n  shift\n  printf \'%s\' "$key" | "$@"\n}\n'


def tang_program(*lines: str) -> str:
    """The baseline LUKS program with a Tang binding's lines after its mount."""
    return LUKS + f"TANG_CONFIG='{TANG_CONFIG}'\n" + WITH_KEY + "".join(f"{line}\n" for line in lines)


def _with_tang(*lines: str) -> None:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata", program=tang_program(*lines))
    app(net, vol)


@violation(RULE, resource="appdata-luks", exact=True)
def clevis_bind_reading_a_key_file_in_tmp() -> None:
    """`clevis luks bind -k` with the existing passphrase in /tmp."""
    _with_tang('clevis luks bind -y -k /tmp/appdata.key -d "$DEVICE" sss "$TANG_CONFIG"')


@violation(RULE, resource="appdata-luks", exact=True)
def clevis_bind_reading_a_key_file_it_cannot_resolve() -> None:
    """`-k` attached to a path only known at run time (`$HOME`): fail closed."""
    _with_tang('clevis-luks-bind -f -k"$HOME/appdata.key" -d "$DEVICE" sss "$TANG_CONFIG"')


@violation(RULE, resource="appdata-luks", exact=True)
def clevis_pass_written_to_a_file() -> None:
    """The binding's passphrase printed into a file on disk."""
    _with_tang('clevis luks pass -d "$DEVICE" -s 1 > /run/appdata.key')


@violation(RULE, resource="appdata-luks", exact=True)
def clevis_pass_appended_to_a_file() -> None:
    """`>>` (and `&>>`) write the passphrase to disk as well."""
    _with_tang('clevis luks pass -d "$DEVICE" -s 1 &>> /var/log/appdata-unlock.log')


@violation(RULE, resource="appdata-luks", exact=True)
def clevis_pass_through_tee() -> None:
    """`tee` between clevis and cryptsetup keeps a copy of the passphrase in a file."""
    _with_tang(
        'clevis luks pass -d "$DEVICE" -s 1 | tee /var/tmp/k | cryptsetup open --test-passphrase '
        '--type luks2 --key-slot 1 --key-file=- "$DEVICE"'
    )


@violation(RULE, resource="appdata-luks", exact=True)
def clevis_pass_on_the_commands_stdout() -> None:
    """Printed on the Command's stdout, the passphrase lands in the state (its `stdout` output)."""
    _with_tang('clevis luks pass -d "$DEVICE" -s 1')


@violation(RULE, resource="appdata-luks", exact=True)
def clevis_pass_to_stderr() -> None:
    """`>&2` sends the passphrase to the Command's logs."""
    _with_tang('clevis luks pass -d "$DEVICE" -s 1 >&2')
