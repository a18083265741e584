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
