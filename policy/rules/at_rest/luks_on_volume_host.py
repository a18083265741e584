"""A LUKS Command runs on the host where the docker provider creates the volume.

The proof "this volume binds a directory of a LUKS mount" is about one machine. A
`command.local.Command` mounts LUKS on the machine that runs Pulumi, a `command.remote.Command`
on its `connection.host`; a docker.Volume is created by its provider on the engine of that
provider's `host` (unix:// or none: the machine that runs Pulumi; ssh://user@host:port: that
host; tcp://host:port: that host). When the two differ, the volume binds a plain directory on
a machine where nothing was mounted. An unknown host (at preview) fails closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from analysis.luks import LuksFacts
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import LOCAL_COMMAND, VOLUME, Resource, StackModel
from analysis.values import UNKNOWN, get_path, is_unknown

NAME = "luks-on-volume-host"
LOCAL = ("local", None)


def command_host(r: Resource) -> Any:
    """("local", None) or (host, port) or UNKNOWN."""
    if r.type == LOCAL_COMMAND:
        return LOCAL
    conn = r.props.get("connection")
    host = get_path(conn, "host")
    port = get_path(conn, "port")
    if is_unknown(conn) or is_unknown(host) or is_unknown(port):
        return UNKNOWN
    if not isinstance(host, str):
        return UNKNOWN
    return (host.strip().lower(), int(port) if isinstance(port, int | float) else 22)


def docker_host(model: StackModel, r: Resource) -> Any:
    """Where a docker resource's provider talks to: ("local", None), (host, port or None), or UNKNOWN."""
    provider = model.by_urn.get(r.provider_urn or "")
    if provider is None:
        # the default provider: DOCKER_HOST or docker:host of the stack config, else the local socket
        configured = model.info.config_value("docker:host") or model.info.config_value("host")
        url: Any = configured
    else:
        url = provider.props.get("host")
    if is_unknown(url):
        return UNKNOWN
    if not url:
        return LOCAL
    parts = urlsplit(str(url))
    if parts.scheme in ("unix", "npipe", ""):
        return LOCAL
    host = (parts.hostname or "").lower()
    if host in ("localhost", "127.0.0.1", "::1") and parts.scheme == "tcp":
        return LOCAL
    if parts.scheme == "ssh":
        return (host, parts.port or 22)
    return (host, None)


def _same(a: tuple[str, int | None], b: tuple[str, int | None]) -> bool:
    if a[0] != b[0]:
        return False
    return a[1] is None or b[1] is None or a[1] == b[1]


def _show(where: Any) -> str:
    if where == LOCAL:
        return "the machine that runs Pulumi"
    host, port = where
    return f"{host}:{port}" if port else host


def check(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    assert model is not None
    luks = model.fact(LuksFacts.of)
    for volume in model.of_type(VOLUME):
        device = get_path(volume.props, "driverOpts", "device")
        if not isinstance(device, str):
            continue
        provided = luks.provider_of(device)
        if provided is None:
            continue  # encrypted-volumes reports it
        cmd = provided.mounted_by
        cmd_at = command_host(cmd)
        vol_at = docker_host(model, volume)
        if is_unknown(cmd_at):
            yield unknown_finding(cmd, "connection.host", "which host the LUKS mount is on", "host:command")
            continue
        if is_unknown(vol_at):
            yield unknown_finding(
                volume, "provider.host", "which Docker engine creates the volume", "host:docker"
            )
            continue
        if not _same(cmd_at, vol_at):
            yield Finding(
                volume,
                "provider",
                f"is created by a docker provider on {_show(vol_at)}, but {cmd.label} mounts the LUKS "
                f"mapping {provided.mapping.name} on {provided.path} on {_show(cmd_at)}: the volume binds a "
                "plain directory on a machine where nothing was encrypted",
                "run the LUKS command on the docker provider's host (command.remote.Command with "
                "connection.host = the provider's ssh:// host, or both local)",
                "host",
            )


RULE = Rule(
    name=NAME,
    description="LUKS Commands run on the host whose Docker engine creates the volumes bound into their mounts.",
    enforcement="mandatory",
    scope="stack",
    check=check,
)
