"""Rule shell-programs-readable: programs the readers cannot prove."""

from __future__ import annotations

import pulumi
import pulumi_command as command

from . import violation
from .baseline import app, internal_network, luks_volume

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
