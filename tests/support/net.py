"""Loopback helpers shared by the labs (tests talk only to 127.0.0.0/8 and to namespaces and VMs
they started)."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(address: str = LOOPBACK) -> int:
    """A TCP port free on `address` right now (whoever binds it next may race; callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])
