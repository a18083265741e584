"""Rule shell-programs-readable: programs the readers cannot prove."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from . import violation
from .baseline import app, internal_network, luks_program, luks_volume

RULE = "shell-programs-readable"


def _beside_baseline(name: str, create: str) -> None:
    net = internal_network("app-net")
    cmd, vol = luks_volume("appdata")
    app(net, vol)
    command.local.Command(name, create=create, opts=pulumi.ResourceOptions(depends_on=[cmd]))


@violation(RULE, resource="setup", exact=True)
def eval_of_a_download() -> None:
    """eval of text fetched at run time."""
    _beside_baseline("setup", 'eval "$(curl -fsS https://setup.example.com/host.sh)"')


@violation(RULE, resource="setup", exact=True)
def curl_pipe_bash() -> None:
    """A shell that reads its program from a pipe."""
    _beside_baseline("setup", "curl -fsS https://setup.example.com/host.sh | sudo bash")


@violation(RULE, resource="setup", exact=True)
def command_name_from_input() -> None:
    """The program to run is read from stdin."""
    _beside_baseline("setup", 'IFS= read -r TOOL\n"$TOOL" --bind /tmp /srv/appdata\n')


@violation(RULE, resource="setup", exact=True)
def syntax_error() -> None:
    """A program bash cannot parse (unterminated if)."""
    _beside_baseline("setup", "if [ -d /srv/appdata ]; then\n  echo ok\n")


@violation(RULE, resource="setup", exact=True)
def xargs_builds_commands() -> None:
    """xargs runs commands built from input."""
    _beside_baseline("setup", "cat /etc/host-steps | xargs -n1 sh -c")


@violation(RULE, resource="appdata-luks", exact=True)
def function_shadows_mount() -> None:
    """A function named `mount` that does nothing: the LUKS mount the pack reads never happens."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume(
        "appdata", program="mount() { :; }\n" + luks_program("/dev/vdb", "appdata", "/srv/appdata")
    )
    app(net, vol)


@violation(RULE, resource="setup", exact=True)
def path_changed_before_the_step() -> None:
    """PATH points at a directory the step controls: every later name may be any program."""
    _beside_baseline("setup", "export PATH=/var/tmp/bin:$PATH\nlogger ready\n")


@violation(RULE, resource="setup", exact=True)
def bash_env_in_the_environment() -> None:
    """BASH_ENV in the Command's environment: bash runs that file before the program."""
    net = internal_network("app-net")
    cmd, vol = luks_volume("appdata")
    app(net, vol)
    command.local.Command(
        "setup",
        create="echo ready",
        environment={"BASH_ENV": "/var/tmp/hook.sh"},
        opts=pulumi.ResourceOptions(depends_on=[cmd]),
    )


@violation(RULE, resource="setup", exact=True)
def python_interpreter() -> None:
    """The program runs under Python, which the pack does not read."""
    net = internal_network("app-net")
    cmd, vol = luks_volume("appdata")
    app(net, vol)
    command.local.Command(
        "setup",
        create="import os; os.system('umount /srv/appdata')",
        interpreter=["python3", "-c"],
        opts=pulumi.ResourceOptions(depends_on=[cmd]),
    )
