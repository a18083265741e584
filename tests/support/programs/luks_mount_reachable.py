"""Rule luks-mount-reachable: the program ends (or skips) before its LUKS mount."""

from __future__ import annotations

from . import violation
from .baseline import app, internal_network, luks_program, luks_volume

RULE = "luks-mount-reachable"
LUKS = luks_program("/dev/vdb", "appdata", "/srv/appdata")
MOUNT_LINE = 'mountpoint -q "$MOUNT" || mount -o nodev,nosuid "/dev/mapper/$MAPPER" "$MOUNT"'


def _with_program(program: str) -> None:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata", program=program)
    app(net, vol)


@violation(RULE, resource="appdata-luks", exact=True)
def exit_0_before_luks() -> None:
    """`exit 0` before the LUKS part: the Command succeeds, nothing is mounted."""
    _with_program(LUKS.replace("IFS= read -r KEY\n", "IFS= read -r KEY\nexit 0\n"))


@violation(RULE, resource="appdata-luks", exact=True)
def true_or_mount() -> None:
    """`true || mount ...`: the mount never runs."""
    _with_program(LUKS.replace(MOUNT_LINE, 'true || mount -o nodev,nosuid "/dev/mapper/$MAPPER" "$MOUNT"'))


@violation(RULE, resource="appdata-luks", exact=True)
def conditional_success_exit() -> None:
    """A marker file on the host makes the program stop early, successfully."""
    _with_program(LUKS.replace("set -eu\n", "set -eu\n[ -e /etc/skip-luks ] && exit\n"))


@violation(RULE, resource="appdata-luks", exact=True)
def mount_in_a_function_never_called() -> None:
    """The mount moved into a function nobody calls."""
    _with_program(LUKS.replace(MOUNT_LINE, "mount_it() { " + MOUNT_LINE + "; }"))


@violation(RULE, resource="appdata-luks", exact=True)
def preflight_function_exits_0() -> None:
    """A preflight function called first exits 0."""
    _with_program("preflight() { echo checking; exit 0; }\npreflight\n" + LUKS)


@violation(RULE, resource="appdata-luks", exact=True)
def exec_replaces_the_shell() -> None:
    """`exec` hands the process to another program before the mount."""
    _with_program(LUKS.replace('mkdir -p "$MOUNT"\n', 'exec sleep 1\nmkdir -p "$MOUNT"\n'))
