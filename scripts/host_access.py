"""How the operator's tools reach the stack's Docker host, the way the program does:

- host.mode local: `sudo -n ARGV...` (ARGV itself when already root);
- host.mode ssh: `ssh` with the deploy key and the pinned host key the program keeps under
  ~/.ssh/encrypted-platform/<project>-<stack>/ (components/host.py), as host.user to
  host.address:host.port, then `sudo -n ARGV...` unless the user is root without host.become.

Used by `make backup-*` (scripts/backups.py) and `make audit` (scripts/audit).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence

from components.host import ssh_material_dir
from components.settings import PROJECT, StackSettings


def host_argv(
    settings: StackSettings, stack: str, argv: Sequence[str], *, euid: int | None = None
) -> list[str]:
    """The argv that runs `argv` as root on the stack's host."""
    host = settings.host
    if host.mode == "local":
        root = (os.geteuid() if euid is None else euid) == 0
        return [*([] if root else ["sudo", "-n"]), *argv]
    material = ssh_material_dir(PROJECT, stack)
    sudo = host.become or host.user != "root"
    remote = " ".join(shlex.quote(part) for part in [*(["sudo", "-n"] if sudo else []), *argv])
    return [
        "ssh",
        "-i",
        str(material / "id"),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={material / 'known_hosts'}",
        "-o",
        "BatchMode=yes",
        "-p",
        str(host.port),
        f"{host.user}@{host.address}",
        "--",
        remote,
    ]
