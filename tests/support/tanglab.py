"""A Tang server on this machine, in a network namespace the test creates, for the VMs of the vm
tier: Debian's tangd (one request per process, as systemd's socket activation runs it) behind a
socat listener on the namespace's loopback. A guest reaches it through a qemu `guestfwd` rule
(`guest_forward`): each connection the guest makes to GUEST_ADDRESS:GUEST_PORT runs
`ip netns exec <ns> socat - TCP:127.0.0.1:<port>` here, so the only path between the VM and the
server is the one the test made; nothing listens on this machine's own network.

`stop()` makes the server unreachable (the listener goes, connections are refused), `start()`
brings it back with the same keys, `rotate_keys()` does what an operator does on a Tang server
(new keys advertised, the old ones kept, hidden, so existing bindings still decrypt until they
are regenerated)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from tests.support.processes import clean_env, stop_process, wait_until

GUEST_ADDRESS = "10.0.2.100"
GUEST_PORT = 7500
SERVER_PORT = 7500
TANGD = "/usr/libexec/tangd"
TANGD_KEYGEN = "/usr/libexec/tangd-keygen"
TANGD_ROTATE = "/usr/libexec/tangd-rotate-keys"


class TangError(RuntimeError):
    pass


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), check=False, **kw)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise TangError(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()}")
    return result


class TangServer:
    def __init__(self, workdir: Path) -> None:
        for program in (TANGD, TANGD_KEYGEN, TANGD_ROTATE):
            if not os.access(program, os.X_OK):
                raise TangError(f"{program} is missing: apt-get install tang (see .ci/apt-packages)")
        for program in ("socat", "jose", "ip", "curl"):
            if shutil.which(program) is None:
                raise TangError(f"{program} is missing (see .ci/apt-packages)")
        self.workdir = Path(workdir)
        self.keys = self.workdir / "db"
        self.keys.mkdir(parents=True, exist_ok=True)
        self.namespace = f"ep-tang-{uuid.uuid4().hex[:8]}"
        self._listener: subprocess.Popen[bytes] | None = None
        _run(["ip", "netns", "add", self.namespace])
        _run(["ip", "-n", self.namespace, "link", "set", "lo", "up"])
        _run([TANGD_KEYGEN, str(self.keys), "sig", "exc"])

    @property
    def url(self) -> str:
        """The URL as the guest spells it."""
        return f"http://{GUEST_ADDRESS}:{GUEST_PORT}"

    @property
    def local_url(self) -> str:
        """The URL as a program run inside the namespace (`in_namespace`) spells it."""
        return f"http://127.0.0.1:{SERVER_PORT}"

    def in_namespace(self, argv: list[str]) -> list[str]:
        """`argv` run inside the server's namespace: what it reaches on 127.0.0.1 is the server."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    @property
    def guest_forward(self) -> str:
        return f"tcp:{GUEST_ADDRESS}:{GUEST_PORT}-cmd:ip netns exec {self.namespace} socat - TCP:127.0.0.1:{SERVER_PORT}"

    def signing_thumbprints(self) -> list[str]:
        """Thumbprints (SHA-256) of the advertised signing keys, as `tang-show-keys` prints them."""
        thumbprints = []
        for key in sorted(self.keys.glob("*.jwk")):
            # Hidden files are rotated-out keys: still used to recover, no longer advertised.
            if key.name.startswith("."):
                continue
            if "verify" in json.loads(key.read_text()).get("key_ops", []):
                thumbprints.append(_run(["jose", "jwk", "thp", "-i", str(key)]).stdout.strip())
        return thumbprints

    def start(self) -> None:
        if self._listener is not None and self._listener.poll() is None:
            return
        self._listener = subprocess.Popen(
            ["ip", "netns", "exec", self.namespace, "socat",
             f"TCP-LISTEN:{SERVER_PORT},bind=127.0.0.1,fork,reuseaddr", f"EXEC:{TANGD} {self.keys}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(),
        )  # fmt: skip
        wait_until(lambda: True if self.advertisement() else None, timeout=20, what="tang advertisement")

    def stop(self) -> None:
        if self._listener is not None:
            stop_process(self._listener)
            self._listener = None

    def advertisement(self) -> str:
        return _run(
            ["ip", "netns", "exec", self.namespace, "curl", "-sf", "--max-time", "5",
             f"http://127.0.0.1:{SERVER_PORT}/adv"]
        ).stdout  # fmt: skip

    def rotate_keys(self) -> None:
        """New signing and exchange keys; the old ones are renamed to hidden files, which tangd
        still uses to answer recovery requests but no longer advertises."""
        _run([TANGD_ROTATE, "-d", str(self.keys)])

    def close(self) -> None:
        self.stop()
        subprocess.run(["ip", "netns", "delete", self.namespace], capture_output=True, check=False)
