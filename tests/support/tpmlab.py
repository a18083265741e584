"""A software TPM 2.0 (swtpm, Debian's package): the TPM a real host has on its mainboard. Its
state lives in a directory of the test; another SoftwareTPM is another machine's TPM.

- for a qemu VM of the vm tier (`qemu_args`): a control socket qemu's TPM emulator backend
  drives; swtpm keeps running across the VM's reboots, as a mainboard's TPM does;
- for programs run on this machine (`start_for_programs`): swtpm's TCP interface on 127.0.0.1,
  and the TPM2TOOLS_TCTI value that points tpm2-tools (and so clevis' tpm2 pin) at it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.net import free_port
from tests.support.processes import clean_env, stop_process, wait_until


class TPMError(RuntimeError):
    pass


class SoftwareTPM:
    def __init__(self, workdir: Path) -> None:
        if shutil.which("swtpm") is None:
            raise TPMError("swtpm is missing: apt-get install swtpm (see .ci/apt-packages)")
        self.workdir = Path(workdir)
        self.state = self.workdir / "state"
        self.state.mkdir(parents=True, exist_ok=True)
        self.control_socket = self.workdir / "swtpm.sock"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self.control_socket.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.state}",
             "--ctrl", f"type=unixio,path={self.control_socket}",
             "--log", f"file={self.workdir / 'swtpm.log'},level=1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(),
        )  # fmt: skip
        wait_until(lambda: True if self.control_socket.exists() else None, timeout=20, what="swtpm socket")

    def start_for_programs(self) -> str:
        """Starts swtpm's TCP interface and returns the TPM2TOOLS_TCTI value for it."""
        # tss2's swtpm TCTI reaches the control channel at the server's port + 1.
        port = free_port()
        control = port + 1
        self._process = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={self.state}",
             "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
             "--ctrl", f"type=tcp,port={control},bindaddr=127.0.0.1",
             "--flags", "not-need-init,startup-clear"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=clean_env(),
        )  # fmt: skip
        tcti = f"swtpm:host=127.0.0.1,port={port}"
        probe = ["tpm2_getrandom", "--hex", "8"]
        env = clean_env(TPM2TOOLS_TCTI=tcti)
        wait_until(
            lambda: True if subprocess.run(probe, env=env, capture_output=True).returncode == 0 else None,
            timeout=20,
            what="swtpm TCP interface",
        )
        return tcti

    @property
    def qemu_args(self) -> list[str]:
        """The qemu arguments of a TPM 2.0 on the TIS interface backed by this emulator."""
        return [
            "-chardev", f"socket,id=chrtpm,path={self.control_socket}",
            "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
            "-device", "tpm-tis,tpmdev=tpm0",
        ]  # fmt: skip

    def close(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None
