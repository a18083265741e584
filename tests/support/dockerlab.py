"""A private Docker engine for tests: its own dockerd in its own network namespace.

`DockerLab.start()` creates two named network namespaces:
- the Docker host (`ep-dockerlab-<pid>-<n>`): loopback and one uplink interface with the host's
  own non-bridge address 198.51.100.1 and a default route via 198.51.100.254;
- "outside" (`...-out`): the other end of that link, 198.51.100.254, standing for everything
  beyond the Docker host (the default gateway). Only a container with a route out reaches it.
Both addresses are TEST-NET-2 (documentation only) and neither namespace has any link to a real
network. Debian's dockerd runs in the host namespace with its own data-root, exec-root, pidfile
and unix socket under a temporary directory, so its bridges, iptables rules and published ports
never touch the machine's own network namespace, and several labs can run side by side.

Test code reaches the lab host's published ports through `connect()` / `run_in_netns()` (sockets
created inside the namespace) and proves "no route out" with `listen_outside()`, a listener on the
outside address that records every peer.

`stop()` stops dockerd and removes both namespaces and the temporary directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import docker

from tests.support.net import free_port
from tests.support.processes import stop_process

if TYPE_CHECKING:
    # The class has a `socket` property, which shadows the module in its annotations.
    from socket import socket as Socket

T = TypeVar("T")

UPLINK_ADDRESS = "198.51.100.1"
UPLINK_PREFIX = 24
OUTSIDE_ADDRESS = "198.51.100.254"  # the lab host's default gateway
# Private address pools, so networks never depend on what the machine's own routes use.
ADDRESS_POOL = "base=10.213.0.0/16,size=24"
CLONE_NEWNET = 0x40000000
BOOT_PATHS = ("/usr/local/sbin", "/run/systemd")
START_TIMEOUT = 60.0
API_VERSION = "1.41"  # Docker 20.10; fixed so the client needs no round trip before dockerd is up

_libc = ctypes.CDLL(None, use_errno=True)
_counter = 0


class DockerLabError(RuntimeError):
    pass


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise DockerLabError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def available() -> str | None:
    """None when a lab can start here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "needs root (dockerd, network namespaces)"
    for tool in ("dockerd", "containerd", "runc", "ip", "nsenter", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} not found (install the Debian packages in .ci/apt-packages)"
    return None


@dataclass
class DockerLab:
    root: Path
    netns: str
    process: subprocess.Popen[bytes]
    client: docker.DockerClient
    uplink_address: str = UPLINK_ADDRESS
    outside_address: str = OUTSIDE_ADDRESS
    _stopped: bool = field(default=False, repr=False)

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def daemon_config_path(self) -> Path:
        return self.root / "daemon.json"

    @property
    def netns_path(self) -> Path:
        return Path("/run/netns") / self.netns

    @property
    def outside_netns(self) -> str:
        return f"{self.netns}-out"

    # -- lifecycle -----------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        base: Path | None = None,
        *,
        daemon_config: dict[str, Any] | None = None,
        extra_args: list[str] | None = None,
    ) -> DockerLab:
        global _counter
        reason = available()
        if reason:
            raise DockerLabError(reason)
        _counter += 1
        # Short paths: containerd's socket lives under exec-root and unix socket paths are limited.
        root = Path(tempfile.mkdtemp(prefix="ep-dl-", dir=str(base) if base else "/tmp"))
        netns = f"ep-dockerlab-{os.getpid()}-{_counter}"
        _run(["ip", "netns", "add", netns])
        _run(["ip", "netns", "add", f"{netns}-out"])
        try:
            _setup_netns(netns)
            log = (root / "dockerd.log").open("wb")
            config_args: list[str] = []
            if daemon_config is not None:
                (root / "daemon.json").write_text(json.dumps(daemon_config))
                config_args = ["--config-file", str(root / "daemon.json")]
            # dockerd resolves names itself (e.g. registry look-ups before a Swarm task starts):
            # in its own mount namespace its /etc/resolv.conf names the outside peer, where
            # nothing answers, never this machine's resolver.
            (root / "resolv.conf").write_text(f"nameserver {OUTSIDE_ADDRESS}\noptions timeout:1 attempts:1\n")
            argv = [
                "nsenter",
                f"--net=/run/netns/{netns}",
                "unshare",
                "--mount",
                "--propagation",
                "slave",
                "sh",
                "-c",
                f'mount --bind {root / "resolv.conf"} /etc/resolv.conf && exec "$@"',
                "ep-dockerd",
                "dockerd",
                "--data-root",
                str(root / "data"),
                "--exec-root",
                str(root / "x"),
                "--pidfile",
                str(root / "dockerd.pid"),
                "--host",
                f"unix://{root / 'docker.sock'}",
                "--ip6tables=false",
                "--default-address-pool",
                ADDRESS_POOL,
                # Containers' upstream resolver too (names Docker's embedded DNS does not know).
                "--dns",
                OUTSIDE_ADDRESS,
                *config_args,
                *(extra_args or []),
            ]
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            client = docker.DockerClient(
                base_url=f"unix://{root / 'docker.sock'}", version=API_VERSION, timeout=120
            )
            lab = cls(root=root, netns=netns, process=process, client=client)
            lab._wait_ready()
            return lab
        except BaseException:
            with contextlib.suppress(Exception):
                if "process" in locals():
                    process.terminate()
                    process.wait(timeout=20)
            for name in (netns, f"{netns}-out"):
                subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
            shutil.rmtree(root, ignore_errors=True)
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DockerLabError(f"dockerd exited ({self.process.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(Exception):
                if self.client.ping():
                    return
            time.sleep(0.2)
        raise DockerLabError(f"dockerd did not answer within {START_TIMEOUT}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        path = self.root / "dockerd.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            for container in self.client.containers.list(all=True):
                container.remove(force=True)
        with contextlib.suppress(Exception):
            if self.client.swarm.attrs:
                self.client.swarm.leave(force=True)
        with contextlib.suppress(Exception):
            self.client.close()
        stop_process(self.process, timeout=30, kill_timeout=10)
        for name in (self.netns, self.outside_netns):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        # dockerd unmounts its overlay layers on a clean stop; anything left is unmounted lazily.
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        for line in reversed(mounts):
            target = line.split()[1]
            if target.startswith(str(self.root) + "/"):
                subprocess.run(["umount", "-l", target], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DockerLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- images --------------------------------------------------------------------------------

    def import_image(self, rootfs_tar: Path, reference: str, changes: list[str] | None = None) -> str:
        """`docker import` of a root filesystem tar; returns the image id."""
        repository, _, tag = reference.rpartition(":")
        self.client.api.import_image_from_file(
            str(rootfs_tar), repository=repository, tag=tag, changes=changes
        )
        return str(self.client.images.get(reference).id)

    def derive_image(self, base: str, reference: str, changes: list[str]) -> str:
        """A new image from `base` with Dockerfile-style `changes` (ENV, CMD, ...), without copying
        layers: commit of a created, never started container."""
        container = self.client.containers.create(base, command=["/bin/true"])
        try:
            repository, _, tag = reference.rpartition(":")
            image = container.commit(repository=repository, tag=tag, changes=changes)
        finally:
            container.remove(force=True)
        return str(image.id)

    # -- inside the namespace ------------------------------------------------------------------

    def run_in_netns(self, fn: Callable[[], T], netns: str | None = None) -> T:
        """Runs `fn` in a thread whose network namespace is the lab host's (or `netns`): sockets
        it creates belong there (127.0.0.1 is the lab host's loopback, where ports are published)."""
        result: dict[str, Any] = {}
        path = Path("/run/netns") / (netns or self.netns)

        def target() -> None:
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                finally:
                    os.close(fd)
                result["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                result["error"] = exc

        thread = threading.Thread(target=target, name=f"netns-{self.netns}")
        thread.start()
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

    def connect(self, address: str, port: int, timeout: float = 5.0) -> Socket:
        """A TCP connection opened inside the lab's namespace."""
        return self.run_in_netns(lambda: socket.create_connection((address, port), timeout=timeout))

    def port_open(self, address: str, port: int, timeout: float = 2.0) -> bool:
        def probe() -> bool:
            try:
                with socket.create_connection((address, port), timeout=timeout):
                    return True
            except OSError:
                return False

        return self.run_in_netns(probe)

    def free_port(self, address: str = "127.0.0.1") -> int:
        return self.run_in_netns(lambda: free_port(address))

    @contextlib.contextmanager
    def listen(self, address: str, port: int = 0, *, outside: bool = False) -> Iterator[Listener]:
        """A TCP listener on `address` in the lab host's namespace (or the outside one) that
        records every peer and answers 'hello'."""
        listener = Listener()

        def bind() -> socket.socket:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(64)
            return sock

        listener.sock = self.run_in_netns(bind, self.outside_netns if outside else None)
        listener.address = address
        listener.port = int(listener.sock.getsockname()[1])
        listener.start()
        try:
            yield listener
        finally:
            listener.close()

    def listen_outside(self, port: int = 0) -> contextlib.AbstractContextManager[Listener]:
        """A listener beyond the Docker host (its default gateway): reachable only with a route out."""
        return self.listen(self.outside_address, port, outside=True)

    def host_command_prefix(self) -> list[str]:
        """argv prefix that runs a program as the lab's Docker host: in its network namespace, in
        a private mount namespace where the boot-persistence paths a program may install into
        (/usr/local/sbin, /run/systemd) are empty tmpfs mounts, so nothing lands on this machine."""
        masks = " && ".join(
            f"{{ [ ! -d {p} ] || mount -t tmpfs -o size=8m,mode=0755 tmpfs {p}; }}" for p in BOOT_PATHS
        )
        return [
            "nsenter",
            f"--net={self.netns_path}",
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f'{masks} && exec "$@"',
            "ep-lab-host",
        ]

    # -- containers ----------------------------------------------------------------------------

    def exec(self, container: str, argv: list[str]) -> tuple[int, str]:
        """Runs argv inside a running container (as the container's user); returns (exit code,
        combined output). Probes bound their own time (nc -w, Python timeouts)."""
        result = self.client.containers.get(container).exec_run(argv, demux=False)
        return int(result.exit_code), (result.output or b"").decode(errors="replace")

    def read_file(self, container: str, path: str) -> bytes:
        stream, _ = self.client.containers.get(container).get_archive(path)
        data = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.getmembers()[0]
            handle = tar.extractfile(member)
            assert handle is not None
            return handle.read()


class Listener(threading.Thread):
    """Accepts connections, records the peer addresses, answers 'hello\\n'."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock: socket.socket
        self.address = ""
        self.port = 0
        self.peers: list[str] = []
        self._closed = threading.Event()

    def run(self) -> None:
        self.sock.settimeout(0.2)
        while not self._closed.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.peers.append(peer[0])
            with contextlib.suppress(OSError), conn:
                conn.sendall(b"hello\n")

    def wait_for_peers(self, count: int = 1, timeout: float = 3.0) -> list[str]:
        """The recorded peers, after waiting until at least `count` arrived (or `timeout`)."""
        deadline = time.monotonic() + timeout
        while len(self.peers) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.peers)

    def close(self) -> None:
        self._closed.set()
        self.join(timeout=2)
        self.sock.close()


def _setup_netns(netns: str) -> None:
    """Loopback up in both namespaces; a veth pair from the Docker host (uplink address, default
    route) to the outside namespace (the gateway address)."""
    outside = f"{netns}-out"
    host = ["ip", "-n", netns]
    out = ["ip", "-n", outside]
    _run([*host, "link", "set", "lo", "up"])
    _run([*out, "link", "set", "lo", "up"])
    _run([*host, "link", "add", "uplink0", "type", "veth", "peer", "name", "uplink1", "netns", outside])
    _run([*host, "addr", "add", f"{UPLINK_ADDRESS}/{UPLINK_PREFIX}", "dev", "uplink0"])
    _run([*out, "addr", "add", f"{OUTSIDE_ADDRESS}/{UPLINK_PREFIX}", "dev", "uplink1"])
    _run([*host, "link", "set", "uplink0", "up"])
    _run([*out, "link", "set", "uplink1", "up"])
    _run([*host, "route", "add", "default", "via", OUTSIDE_ADDRESS, "dev", "uplink0"])
