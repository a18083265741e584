"""Rule luks-parameters: weak LUKS parameters and key material outside stdin."""

from __future__ import annotations

import pulumi
import pulumi_command as command
import pulumi_random as random

from . import violation
from .baseline import app, internal_network, luks_program, luks_volume

RULE = "luks-parameters"


def _with(
    program_kwargs: dict[str, str] | None = None, program: str | None = None, **volume_kwargs: object
) -> None:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata", program=program, **(program_kwargs or {}), **volume_kwargs)  # type: ignore[arg-type]
    app(net, vol)


@violation(RULE, "encrypted-volumes", resource="appdata-luks", exact=True)
def luks1_format() -> None:
    """LUKS1 instead of LUKS2 (opened without a type, so the mapping is still LUKS)."""
    _with({"luks_type": "luks1", "open_type": "luks"})


@violation(RULE, resource="appdata-luks", exact=True)
def cbc_cipher_and_short_key() -> None:
    """aes-cbc-essiv with a 256-bit key."""
    _with({"cipher": "aes-cbc-essiv:sha256", "key_size": "256"})


@violation(RULE, resource="appdata-luks", exact=True)
def pbkdf2_kdf() -> None:
    """PBKDF2 is not memory-hard."""
    _with({"pbkdf": "pbkdf2"})


@violation(RULE, resource="appdata-luks", exact=True)
def build_defaults() -> None:
    """luksFormat with no parameters: the host's cryptsetup build decides."""
    program = """set -eu
cryptsetup isLuks /dev/vdb || cryptsetup luksFormat -q --type luks2 /dev/vdb -
cryptsetup open --type luks2 /dev/vdb appdata -
mount /dev/mapper/appdata /srv/appdata
"""
    _with(program=program)


@violation(RULE, resource="appdata-luks", exact=True)
def passphrase_literal_in_text() -> None:
    """The passphrase echoed into cryptsetup: it is in the state and in process listings."""
    program = """set -eu
PASSPHRASE='correct horse battery staple'
echo -n "$PASSPHRASE" | cryptsetup luksFormat -q --type luks2 --cipher aes-xts-plain64 --key-size 512 --pbkdf argon2id --key-file=- /dev/vdb
echo -n "$PASSPHRASE" | cryptsetup open --type luks2 --key-file=- /dev/vdb appdata
mount /dev/mapper/appdata /srv/appdata
"""
    _with(program=program)


@violation(RULE, resource="appdata-luks", exact=True)
def passphrase_in_environment() -> None:
    """The passphrase in the Command's environment."""
    net = internal_network("app-net")
    key = random.RandomPassword("appdata-key", length=48, special=False)
    cmd = command.local.Command(
        "appdata-luks",
        create=luks_program("/dev/vdb", "appdata", "/srv/appdata").replace(
            "IFS= read -r KEY", 'KEY="$LUKS_PASSPHRASE"'
        ),
        environment={"LUKS_PASSPHRASE": key.result},
    )
    from .baseline import docker

    vol = docker.Volume(
        "appdata",
        name="appdata",
        driver="local",
        driver_opts={"type": "none", "o": "bind", "device": "/srv/appdata/data"},
        opts=pulumi.ResourceOptions(depends_on=[cmd]),
    )
    app(net, vol)


@violation(RULE, resource="appdata-luks")
def passphrase_interpolated_into_create() -> None:
    """The generated passphrase interpolated into the command text (unknown at preview; a literal after)."""
    net = internal_network("app-net")
    key = random.RandomPassword("appdata-key", length=48, special=False)
    create = key.result.apply(
        lambda k: luks_program("/dev/vdb", "appdata", "/srv/appdata").replace(
            "IFS= read -r KEY", f"KEY='{k}'"
        )
    )
    cmd = command.local.Command("appdata-luks", create=create, stdin=key.result)
    from .baseline import docker

    vol = docker.Volume(
        "appdata",
        name="appdata",
        driver="local",
        driver_opts={"type": "none", "o": "bind", "device": "/srv/appdata/data"},
        opts=pulumi.ResourceOptions(depends_on=[cmd]),
    )
    app(net, vol)


@violation(RULE, resource="appdata-luks", exact=True)
def opens_without_formatting() -> None:
    """Opens a device formatted out of band: its parameters are unverifiable."""
    program = """set -eu
cryptsetup status appdata >/dev/null 2>&1 || cryptsetup open --type luks2 --key-file=- /dev/vdb appdata
mountpoint -q /srv/appdata || mount /dev/mapper/appdata /srv/appdata
"""
    _with(program=program)


@violation(RULE, resource="appdata-luks", exact=True)
def key_file_from_process_substitution_literal() -> None:
    """A literal key passed through process substitution."""
    program = luks_program("/dev/vdb", "appdata", "/srv/appdata").replace(
        'printf \'%s\' "$KEY" | cryptsetup open --type luks2 --key-file=- "$DEVICE" "$MAPPER"',
        'cryptsetup open --type luks2 --key-file <(printf \'hunter2hunter2\') "$DEVICE" "$MAPPER"',
    )
    _with(program=program)


@violation(RULE, resource="appdata-luks", exact=True)
def reencrypt_decrypts() -> None:
    """A "maintenance" step that removes the encryption."""
    program = (
        luks_program("/dev/vdb", "appdata", "/srv/appdata")
        + 'printf "%s" "$KEY" | cryptsetup reencrypt --decrypt --key-file=- --header /root/hdr "$DEVICE"\n'
    )
    _with(program=program)


@violation(RULE, resource="appdata-luks", exact=True)
def passphrase_literal_fed_to_clevis_bind() -> None:
    """The existing passphrase a Tang binding needs, written into the program as a literal."""
    program = luks_program("/dev/vdb", "appdata", "/srv/appdata") + (
        "printf '%s' 'correct-horse-battery' | clevis luks bind -y -k - -d \"$DEVICE\" tang "
        '\'{"url":"http://tang.example.test","thp":"abc123"}\'\n'
    )
    _with(program=program)
