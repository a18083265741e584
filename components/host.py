"""DockerHost: the machine the platform runs on.

It yields the two handles every other component needs for the same machine: a way to run
commands on it (pulumi_command local or remote Command) and a pulumi_docker Provider.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from components.settings import HostSettings
from components.shell import SCRIPTS_ROOT, invocation, render_shell_program

# Container inputs the docker provider takes as an in-place update without applying it (its
# update only runs `docker update`: restart policy and memory): a new healthcheck, mount or tmpfs
# would reach the state but never the running container. Replacing on them applies them.
CONTAINER_REPLACE_ON_CHANGES = ["healthcheck", "mounts", "tmpfs"]


def container_capabilities(
    adds: Sequence[str], drops: Sequence[str] = ("ALL",)
) -> docker.ContainerCapabilitiesArgs:
    """Capabilities spelt as the Docker daemon stores them (HostConfig.CapAdd: CAP_ prefixed, ALL
    as is). The provider reads them back verbatim and compares them with the program's inputs, so
    the short spelling (NET_BIND_SERVICE) shows a change after every refresh, and a change of
    capabilities replaces the container."""

    def stored(name: str) -> str:
        return name if name == "ALL" or name.startswith("CAP_") else f"CAP_{name}"

    return docker.ContainerCapabilitiesArgs(
        drops=[stored(d) for d in drops], adds=[stored(a) for a in adds] or None
    )


def pids_limit_command(host: DockerHost, container_name: str, pids: int) -> str:
    """`docker update --pids-limit` for a created container, on the Docker host itself
    (pulumi-docker 5.2 has no PID-limit argument)."""
    prefix = "sudo -n " if host.become else ""
    socket = host.settings.docker_socket
    return (
        f"{prefix}docker -H {shlex.quote('unix://' + socket)} update --pids-limit {pids} "
        f"{shlex.quote(container_name)}"
    )


def docker_facts_program(settings: HostSettings) -> str:
    return render_shell_program(
        "encrypted-platform facts about the Docker daemon.",
        {"EP_DOCKER_HOST": f"unix://{settings.docker_socket}"},
        [],
        (SCRIPTS_ROOT / "host" / "docker_facts.sh").read_text(),
        secrets_on_stdin=False,
    )


def swap_limit_from_facts(stdout: str | None) -> bool:
    """What the facts program printed. Anything but an explicit "false" (no output yet, as in a
    test double) keeps the strict reading: the daemon limits swap to zero."""
    return "swap-limit=false" not in (stdout or "").splitlines()


def ssh_material_dir(project: str, stack: str) -> Path:
    """Where the operator machine keeps the SSH key and pinned host key for the Docker CLI's ssh
    transport (it reads keys only from files)."""
    return Path.home() / ".ssh" / "encrypted-platform" / f"{project}-{stack}"


def known_hosts_line(settings: HostSettings) -> str:
    host = settings.address if settings.port == 22 else f"[{settings.address}]:{settings.port}"
    key = " ".join((settings.host_key or "").split()[:2])
    return f"{host} {key}\n"


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content if content.endswith("\n") else content + "\n")


class DockerHost(pulumi.ComponentResource):
    """The local machine (dev) or a server reached over SSH (private key is a Pulumi secret)."""

    provider: docker.Provider
    connection: command.remote.ConnectionArgs | None

    def __init__(
        self,
        name: str,
        settings: HostSettings,
        *,
        private_key: pulumi.Input[str] | None = None,
        project: str | None = None,
        stack: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("encrypted-platform:host:DockerHost", name, None, opts)
        self.settings = settings
        self.become = settings.become
        project = project or pulumi.get_project()
        stack = stack or pulumi.get_stack()
        child = pulumi.ResourceOptions(parent=self)

        if settings.mode == "ssh":
            if private_key is None:
                raise ValueError("DockerHost in ssh mode needs private_key")
            self.connection = command.remote.ConnectionArgs(
                host=settings.address or "",
                port=settings.port,
                user=settings.user,
                private_key=private_key,
                host_key=settings.host_key,
                dial_error_limit=10,
                per_dial_timeout=15,
            )
            material = ssh_material_dir(project, stack)
            identity = material / "id"
            known_hosts = material / "known_hosts"
            # The Docker CLI's ssh transport reads keys only from files: keep a 0600 copy of the
            # secret key and the pinned host key next to each other, on the operator's machine.
            pulumi.Output.secret(private_key).apply(lambda key: _write_private(identity, key))
            _write_private(known_hosts, known_hosts_line(settings))
            self.docker_host = f"ssh://{settings.user}@{settings.address}:{settings.port}"
            ssh_opts = [
                "-o",
                "IdentitiesOnly=yes",
                "-i",
                str(identity),
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                f"UserKnownHostsFile={known_hosts}",
                "-o",
                "BatchMode=yes",
            ]
            self.provider = docker.Provider(
                f"{name}-docker", host=self.docker_host, ssh_opts=ssh_opts, opts=child
            )
        else:
            self.connection = None
            self.docker_host = f"unix://{settings.docker_socket}"
            self.provider = docker.Provider(f"{name}-docker", host=self.docker_host, opts=child)

        facts = self.run(
            f"{name}-docker-facts",
            create=invocation(docker_facts_program(settings), "ep-docker-facts", become=self.become),
            opts=child,
        )
        self.swap_limit: pulumi.Output[bool] = facts.stdout.apply(swap_limit_from_facts)  # type: ignore[attr-defined]

        self.register_outputs({"dockerHost": self.docker_host})

    def memory_swap(self, memory_mib: int) -> pulumi.Output[int]:
        """memory_swap (MiB) for a container limited to `memory_mib` without swap on top: equal to
        the memory limit where the daemon can limit swap, else -1, the value the daemon stores
        there (it cannot grant or refuse swap then; run such hosts without swap)."""
        return self.swap_limit.apply(lambda limited: memory_mib if limited else -1)

    def run(
        self,
        name: str,
        *,
        create: pulumi.Input[str],
        update: pulumi.Input[str] | None = None,
        delete: pulumi.Input[str] | None = None,
        stdin: pulumi.Input[str] | None = None,
        triggers: Sequence[Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> pulumi.CustomResource:
        """A Command on this host. Secrets go in `stdin` only: the command text and environment
        are plain values in the state and in the policy pack's view."""
        common: dict[str, Any] = dict(
            create=create,
            update=update,
            delete=delete,
            stdin=stdin,
            triggers=list(triggers) if triggers else None,
            add_previous_output_in_env=False,
        )
        if self.connection is None:
            return command.local.Command(name, interpreter=["/bin/sh", "-c"], opts=opts, **common)
        return command.remote.Command(name, connection=self.connection, opts=opts, **common)
