"""The host firewall program, for real, on a miniature Docker host built from network namespaces:
a "host" namespace with a bridge named like Docker's (br-...), a "container" namespace behind it
and a second host interface standing for the host's public address. The program runs inside the
host namespace, so this machine's own firewall is never touched."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.isolation.firewall import render_firewall
from components.settings.firewall import FirewallSettings
from components.shell import invocation

BRIDGE_IP = "172.31.250.1"
CONTAINER_IP = "172.31.250.2"
PUBLIC_IP = "10.213.0.1"  # a second interface of the "host" (like its eth0)

LISTENER = """
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"hello %d\\n" % port); c.close()
for p in map(int, sys.argv[1:]):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

CONNECT = """
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    print(s.recv(64).decode().strip())
except OSError as e:
    print("blocked:", type(e).__name__)
"""


def sh(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, **kw)


class MiniHost:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.host, self.ctr = f"ep-fw-h-{tag}", f"ep-fw-c-{tag}"
        self.listeners: list[subprocess.Popen[str]] = []

    def up(self) -> None:
        sh("ip", "netns", "add", self.host)
        sh("ip", "netns", "add", self.ctr)
        h = ["ip", "netns", "exec", self.host]
        c = ["ip", "netns", "exec", self.ctr]
        sh(*h, "ip", "link", "set", "lo", "up")
        sh(*c, "ip", "link", "set", "lo", "up")
        sh(*h, "ip", "link", "add", "br-eptest", "type", "bridge")
        sh(*h, "ip", "addr", "add", f"{BRIDGE_IP}/24", "dev", "br-eptest")
        sh(*h, "ip", "link", "set", "br-eptest", "up")
        sh(*h, "ip", "link", "add", "vethh", "type", "veth", "peer", "name", "vethc")
        sh(*h, "ip", "link", "set", "vethc", "netns", self.ctr)
        sh(*h, "ip", "link", "set", "vethh", "master", "br-eptest")
        sh(*h, "ip", "link", "set", "vethh", "up")
        # (no dummy interfaces in every kernel: a veth pair kept in the host namespace will do)
        sh(*h, "ip", "link", "add", "eth-pub", "type", "veth", "peer", "name", "eth-pub-peer")
        sh(*h, "ip", "link", "set", "eth-pub-peer", "up")
        sh(*h, "ip", "addr", "add", f"{PUBLIC_IP}/24", "dev", "eth-pub")
        sh(*h, "ip", "link", "set", "eth-pub", "up")
        sh(*c, "ip", "addr", "add", f"{CONTAINER_IP}/24", "dev", "vethc")
        sh(*c, "ip", "link", "set", "vethc", "up")
        sh(*c, "ip", "route", "add", "default", "via", BRIDGE_IP)

    def listen(self, namespace: str, *ports: int) -> None:
        process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, "python3", "-c", LISTENER, *map(str, ports)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout and process.stdout.readline().strip() == "ready"
        self.listeners.append(process)

    def connect(self, namespace: str, address: str, port: int) -> str:
        return sh(
            "ip", "netns", "exec", namespace, "python3", "-c", CONNECT, address, str(port)
        ).stdout.strip()

    def run_program(self, program: str, name: str, boot_dir: Path) -> subprocess.CompletedProcess[str]:
        # A private mount namespace with a tmpfs on /usr/local/sbin: the boot-time copy the program
        # installs lands there, not on this machine.
        script = f"mount -t tmpfs tmpfs /usr/local/sbin && {invocation(program, name)}; rc=$?; cp -a /usr/local/sbin/. {boot_dir}/ ; exit $rc"
        return sh("ip", "netns", "exec", self.host, "unshare", "--mount", "sh", "-c", script, check=False)

    def iptables(self) -> str:
        return sh("ip", "netns", "exec", self.host, "iptables", "-w", "-S").stdout

    def down(self) -> None:
        for process in self.listeners:
            process.kill()
            process.wait()
        for namespace in (self.ctr, self.host):
            sh("ip", "netns", "delete", namespace, check=False)


@pytest.fixture
def minihost() -> Iterator[MiniHost]:
    host = MiniHost()
    try:
        host.up()
        host.listen(host.host, 2222, 9100)  # "sshd" and an allowed agent on the host
        host.listen(host.ctr, 8080)  # a service inside the container
        yield host
    finally:
        host.down()


def test_containers_cannot_reach_the_host_but_the_host_reaches_them(
    minihost: MiniHost, tmp_path: Path
) -> None:
    settings = FirewallSettings(allow_tcp_ports=[9100])
    # Without the firewall the container reaches the host's services on every host address.
    assert minihost.connect(minihost.ctr, BRIDGE_IP, 2222) == "hello 2222"
    assert minihost.connect(minihost.ctr, PUBLIC_IP, 2222) == "hello 2222"

    applied = minihost.run_program(render_firewall("apply", settings), "ep-firewall-apply", tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert '"changed":true' in applied.stdout

    assert minihost.connect(minihost.ctr, BRIDGE_IP, 2222).startswith("blocked: ConnectionRefused")
    assert minihost.connect(minihost.ctr, PUBLIC_IP, 2222).startswith("blocked: ConnectionRefused")
    assert minihost.connect(minihost.ctr, BRIDGE_IP, 9100) == "hello 9100"
    # Replies to connections the host opens still pass (docker-proxy, probes).
    assert minihost.connect(minihost.host, CONTAINER_IP, 8080) == "hello 8080"

    # Idempotent: a second run changes nothing.
    rules = minihost.iptables()
    again = minihost.run_program(render_firewall("apply", settings), "ep-firewall-apply", tmp_path)
    assert again.returncode == 0 and '"changed":false' in again.stdout, again.stderr
    assert minihost.iptables() == rules
    assert rules.count("-j EP-HOST-GUARD") == 3

    # The boot-time copy is the same program and restores the rules after a "reboot" (flush).
    boot = tmp_path / "encrypted-platform-firewall"
    assert boot.read_text().startswith("#!/usr/bin/env bash")
    sh("ip", "netns", "exec", minihost.host, "iptables", "-w", "-F", "INPUT")
    assert minihost.connect(minihost.ctr, BRIDGE_IP, 2222) == "hello 2222"
    rebooted = sh("ip", "netns", "exec", minihost.host, "bash", str(boot), "--boot", check=False)
    assert rebooted.returncode == 0, rebooted.stderr
    assert minihost.connect(minihost.ctr, BRIDGE_IP, 2222).startswith("blocked")


def test_remove_restores_the_previous_state(minihost: MiniHost, tmp_path: Path) -> None:
    settings = FirewallSettings()
    before = minihost.iptables()
    assert minihost.run_program(render_firewall("apply", settings), "a", tmp_path).returncode == 0
    assert "EP-HOST-GUARD" in minihost.iptables()
    removed = minihost.run_program(render_firewall("remove", settings), "r", tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert minihost.iptables() == before
    assert minihost.connect(minihost.ctr, BRIDGE_IP, 2222) == "hello 2222"
