"""Reaching a running VM: SSH with its pinned host key, commands in the guest, and a Docker SDK
client over SSH (docker flavour)."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .host import CACHE, GUEST_FILES, VMCommandError, VMError


def _sdk_ssh_dirs() -> tuple[Path, Path]:
    """Puts the docker-SDK ssh wrapper first on PATH (once per process) and returns
    (wrapper directory, directory of per-port ssh configs)."""
    bindir = CACHE / "sdk-ssh-bin"
    configs = CACHE / "sdk-ssh-configs"
    bindir.mkdir(parents=True, exist_ok=True)
    configs.mkdir(parents=True, exist_ok=True)
    link = bindir / "ssh"
    wrapper = GUEST_FILES / "docker-sdk-ssh"
    if not link.is_symlink() or os.readlink(link) != str(wrapper):
        tmp = bindir / f".ssh.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(wrapper, tmp)
        os.replace(tmp, link)
    os.environ["VMLAB_SSH_CONFIGS"] = str(configs)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if not path or path[0] != str(bindir):
        os.environ["PATH"] = os.pathsep.join([str(bindir), *[p for p in path if p != str(bindir)]])
    return bindir, configs


class GuestAccess:
    """The SSH part of a VM: the ssh configuration of its forwarded port, commands in the guest,
    and the Docker SDK client of a docker-flavour boot."""

    name: str
    flavour: str
    workdir: Path
    ssh_port: int
    ssh_config: Path
    known_hosts: Path
    private_key: Path
    host_key: str
    forwarded: dict[int, int]
    _docker: Any = None  # the client of the current boot
    _registered_config: Path | None = None

    @property
    def running(self) -> bool:
        """Whether qemu runs (the VM's lifecycle knows)."""
        raise NotImplementedError

    def write_ssh_files(self) -> None:
        self.known_hosts.write_text(f"[127.0.0.1]:{self.ssh_port} {self.host_key}\n")
        self.ssh_config.write_text(
            f"# vmlab VM {self.name}: use with ssh -F (written by tests/support/vmlab/ssh.py)\n"
            "Host *\n"
            "  HostName 127.0.0.1\n"
            f"  Port {self.ssh_port}\n"
            "  User root\n"
            f"  IdentityFile {self.private_key}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n"
            "  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking yes\n"
            "  CheckHostIP no\n"
            "  HostKeyAlgorithms ssh-ed25519\n"
            "  BatchMode yes\n"
            "  AddressFamily inet\n"
            "  ConnectTimeout 20\n"
            "  ServerAliveInterval 15\n"
            "  ServerAliveCountMax 4\n"
            "  LogLevel ERROR\n"
        )

    def ssh_argv(self, user: str = "root") -> list[str]:
        """`ssh` with this VM's config (key, pinned host key); append `--` and a command."""
        return ["/usr/bin/ssh", "-F", str(self.ssh_config), "-l", user, "127.0.0.1"]

    def ssh(
        self,
        command: str | Sequence[str],
        *,
        input: bytes | str | None = None,  # noqa: A002 - same name as subprocess.run
        timeout: float = 120.0,
        check: bool = True,
        user: str = "root",
    ) -> subprocess.CompletedProcess[bytes]:
        """Runs a shell command line (or an argv, quoted for the remote shell) in the guest.
        Standard input is `input` (or empty); it never appears in errors or logs."""
        line = command if isinstance(command, str) else shlex.join(command)
        data = input.encode() if isinstance(input, str) else (input or b"")
        result = subprocess.run(
            [*self.ssh_argv(user), "--", line], input=data, capture_output=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise VMCommandError(result.returncode, line, result.stdout, result.stderr)
        return result

    def private_key_text(self) -> str:
        """The OpenSSH private key (for the project's sshPrivateKey secret)."""
        return self.private_key.read_text()

    @property
    def docker_host(self) -> str:
        return f"ssh://root@127.0.0.1:{self.ssh_port}"

    def port(self, guest_port: int) -> int:
        """The host loopback port forwarded to a guest port."""
        return self.forwarded[guest_port]

    def docker_client(self, timeout: int = 180) -> Any:
        """A docker SDK client over the system ssh (see docker_ssh.py) for this boot. The
        wrapper that gives ssh this VM's config goes first on PATH (see docker-sdk-ssh)."""
        if self.flavour != "docker":
            raise VMError("docker_client() needs the docker flavour")
        if not self.running:
            raise VMError(f"{self.name} is not running")
        if self._docker is None:
            from tests.support.docker_ssh import ssh_docker_client

            _, configs = _sdk_ssh_dirs()
            registered = configs / f"{self.ssh_port}.config"
            tmp = configs / f".{self.ssh_port}.{os.getpid()}"
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(self.ssh_config, tmp)
            os.replace(tmp, registered)
            self._registered_config = registered
            self._docker = ssh_docker_client(self.docker_host, timeout=timeout, max_pool_size=4)
        return self._docker

    def forget_docker(self) -> None:
        if self._docker is not None:
            with contextlib.suppress(Exception):
                self._docker.close()
            self._docker = None
        if self._registered_config is not None:
            with contextlib.suppress(FileNotFoundError):
                if os.readlink(self._registered_config) == str(self.ssh_config):
                    self._registered_config.unlink()
            self._registered_config = None

    def import_image(self, tar: Path, name: str, changes: Iterable[str] = (), timeout: float = 600.0) -> None:
        """`docker import` of a root filesystem tar streamed over SSH (for images not baked in;
        about 5 s for busybox, a minute for 185 MB under emulation)."""
        options = [arg for change in changes for arg in ("--change", change)]
        self.ssh(["docker", "import", *options, "-", name], input=Path(tar).read_bytes(), timeout=timeout)
