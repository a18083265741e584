"""HostFirewall: keep containers away from the Docker host's own services.

Docker isolates containers from each other and (for `internal` networks) from the outside, but it
leaves the host's INPUT chain open: a container reaches the host's sshd or a Docker API listening
on TCP through its bridge gateway. The firewall program (components/scripts/firewall/) rejects
packets from Docker bridges to the host unless they answer a connection the host opened.
"""

from __future__ import annotations

import pulumi

from components.host import DockerHost
from components.settings.firewall import FirewallSettings
from components.shell import SCRIPTS_ROOT, invocation, render_shell_program

FIREWALL_SCRIPTS = SCRIPTS_ROOT / "firewall"
FIREWALL_CHAIN = "EP-HOST-GUARD"
FIREWALL_PROGRAMS = ("apply", "remove")


def firewall_params(settings: FirewallSettings) -> dict[str, str]:
    return {
        "FW_CHAIN": FIREWALL_CHAIN,
        "FW_INTERFACES": " ".join(settings.interfaces),
        "FW_ALLOW_TCP_PORTS": " ".join(str(p) for p in settings.allow_tcp_ports),
    }


def render_firewall(program: str, settings: FirewallSettings) -> str:
    if program not in FIREWALL_PROGRAMS:
        raise ValueError(f"unknown firewall program {program!r}")
    return render_shell_program(
        f"encrypted-platform host firewall ({program}).",
        firewall_params(settings),
        [SCRIPTS_ROOT / "common.sh", FIREWALL_SCRIPTS / "lib.sh"],
        (FIREWALL_SCRIPTS / f"{program}.sh").read_text(),
    )


class HostFirewall(pulumi.ComponentResource):
    """One Command on the host: create/update converge the rules (and install them for boot),
    delete removes them."""

    def __init__(
        self,
        name: str,
        host: DockerHost,
        settings: FirewallSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("encrypted-platform:host:HostFirewall", name, None, opts)
        apply = invocation(render_firewall("apply", settings), "ep-firewall-apply", become=host.become)
        self.rules = host.run(
            f"{name}-rules",
            create=apply,
            update=apply,
            delete=invocation(render_firewall("remove", settings), "ep-firewall-remove", become=host.become),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"chain": FIREWALL_CHAIN, "interfaces": settings.interfaces})
