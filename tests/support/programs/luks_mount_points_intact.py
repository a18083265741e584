"""Rule luks-mount-points-intact: what a program does to a LUKS mount point after (or instead of)
mounting the mapping there."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from . import violation
from .baseline import app, internal_network, luks_program, luks_volume

RULE = "luks-mount-points-intact"
LUKS = luks_program("/dev/vdb", "appdata", "/srv/appdata")


def _with_program(program: str) -> None:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata", program=program)
    app(net, vol)


def _with_later(step: str) -> None:
    """The baseline, plus a later Command (ordered after the LUKS one) running `step`."""
    net = internal_network("app-net")
    cmd, vol = luks_volume("appdata")
    command.local.Command("maintenance", create=step, opts=pulumi.ResourceOptions(depends_on=[cmd]))
    app(net, vol)


@violation(RULE, resource="appdata-luks", exact=True)
def bind_mount_over_mount_point() -> None:
    """`mount --bind` of a plain directory over the LUKS mount point, after mounting the mapping."""
    _with_program(LUKS + "mkdir -p /var/tmp/plain\nmount --bind /var/tmp/plain /srv/appdata\n")


@violation(RULE, resource="appdata-luks", exact=True)
def plain_disk_under_mount_point() -> None:
    """A plain disk mounted on the data directory Docker binds."""
    _with_program(LUKS + "mount /dev/sdc1 /srv/appdata/data\n")


@violation(RULE, resource="maintenance", exact=True)
def umount_in_a_later_command() -> None:
    """A later Command unmounts the LUKS filesystem: the volume then binds the bare directory."""
    _with_later("umount /srv/appdata")


@violation(RULE, resource="appdata-luks", exact=True)
def symlink_replaces_data_dir() -> None:
    """The data directory replaced by a symlink to the unencrypted disk."""
    _with_program(LUKS + "rm -rf /srv/appdata/data\nln -s /var/lib/plain /srv/appdata/data\n")


@violation(RULE, resource="maintenance", exact=True)
def tmpfs_over_a_parent() -> None:
    """A filesystem mounted on a parent of the mount point hides it."""
    _with_later("mount -t tmpfs tmpfs /srv")


@violation(RULE, resource="appdata-luks", exact=True)
def bind_through_mount_options() -> None:
    """`-o bind` spelled as a mount option, not as --bind."""
    _with_program(LUKS + "mount -o rw,bind /var/tmp/plain /srv/appdata/data\n")


@violation(RULE, resource="maintenance", exact=True)
def unmount_target_read_at_run_time() -> None:
    """The unmount target comes from input: it may be the LUKS mount point (fail closed)."""
    _with_later('set -eu\nIFS= read -r TARGET\numount -l "$TARGET"\n')


@violation(RULE, resource="appdata-luks", exact=True)
def unmount_in_an_exit_trap() -> None:
    """The unmount hides in an EXIT trap: it runs when the program ends."""
    _with_program("trap 'umount /srv/appdata' EXIT\n" + LUKS)


@violation(RULE, resource="maintenance", exact=True)
def bind_inside_sudo_bash_c() -> None:
    """The bind mount wrapped in `sudo -n bash -c '...'`."""
    _with_later("sudo -n bash -c 'mount --bind /tmp /srv/appdata/data' bind-step")


@violation(RULE, resource="maintenance", exact=True)
def unmount_everything() -> None:
    """`umount -a` takes the LUKS filesystem with it."""
    _with_later("umount -a -t ext4")


@violation(RULE, resource="appdata-luks", exact=True)
def unmount_in_a_called_function() -> None:
    """The unmount inside a function the program calls at the end."""
    _with_program(LUKS + "cleanup() { umount /srv/appdata; }\ncleanup\n")
