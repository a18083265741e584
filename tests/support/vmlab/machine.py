"""The qemu machine lifecycle: boot to the guest's ready line and a working SSH login, clean
power-off, reboot on the same disks and ports, hard kill; no VM outlives the test process."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import re
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.support.net import free_port

from .disks import DiskSlots
from .host import Assets, VMCommandError, VMError, log, run_host
from .ssh import GuestAccess

DEFAULT_MEMORY_MB = {"luks": 512, "docker": 1024}
DEFAULT_BOOT_TIMEOUT = {"luks": 180.0, "docker": 420.0}
KERNEL_CMDLINE = (
    "console=ttyS0 quiet loglevel=3 panic=-1 apparmor=0 mitigations=off net.ifnames=0 root=/dev/vda rw"
)
DOCKER_PORTS = (80, 443)  # forwarded to host loopback ports for the docker flavour


# Lines the guest scripts print on the serial console ("vmlab: [uptime] message").
READY_RE = re.compile(r"^vmlab: \[[\d.]+\] ready boot_id=(\S+)", re.MULTILINE)
FAILED_RE = re.compile(r"^vmlab: (?:\[[\d.]+\] )?boot failed.*$", re.MULTILINE)
SHUTDOWN_RE = re.compile(r"^vmlab: \[[\d.]+\] shutdown complete", re.MULTILINE)


_LIVE_VMS: weakref.WeakSet[VM] = weakref.WeakSet()


@atexit.register
def _kill_leftover_vms() -> None:
    for vm in list(_LIVE_VMS):
        with contextlib.suppress(Exception):
            vm.close()


def _die_with_parent() -> None:
    # qemu gets SIGKILL when the process that started it dies, even by SIGKILL: no stray VMs.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class VM(DiskSlots, GuestAccess):
    """One qemu VM on a copy-on-write overlay of a flavour's root image.

    Ports (SSH and forwarded guest ports) are chosen at the first boot and kept for the VM's
    life, so settings that name them stay valid across reboots. Disks keep their contents across
    reboots. `close()` (or leaving the `with` block) kills qemu if it still runs.
    """

    def __init__(
        self,
        assets: Assets,
        workdir: Path,
        *,
        name: str = "vm",
        memory_mb: int | None = None,
        smp: int = 2,
        data_disks: Mapping[str, int | str] | None = None,
        forward_ports: Iterable[int] = (),
        readonly_disks: Mapping[str, Path] | None = None,
        overlay_root: bool = True,
        guest_forwards: Iterable[str] = (),
        extra_qemu_args: Iterable[str] = (),
    ) -> None:
        self.assets = assets
        self.flavour = assets.flavour
        self.name = name
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.memory_mb = memory_mb or DEFAULT_MEMORY_MB[self.flavour]
        self.smp = smp
        self.console_log = self.workdir / "console.log"
        self.qemu_log = self.workdir / "qemu.log"
        self.ssh_config = self.workdir / "ssh_config"
        self.known_hosts = self.workdir / "known_hosts"
        self.private_key = assets.private_key
        self.host_key = assets.host_key
        guest_ports = list(DOCKER_PORTS) if self.flavour == "docker" else []
        guest_ports += [port for port in forward_ports if port not in guest_ports and port != 22]
        self._guest_ports = guest_ports
        # qemu user networking `guestfwd` rules ("tcp:10.0.2.100:7500-cmd:..."): a guest
        # connection to that address runs the command on this machine with the connection on its
        # stdin/stdout (the only way out of restrict=on, and only to what the test started).
        self.guest_forwards = list(guest_forwards)
        # Devices the test provides beyond disks and the network (e.g. a software TPM).
        self.extra_qemu_args = list(extra_qemu_args)
        for rule in self.guest_forwards:
            if "," in rule:
                raise VMError(f"a guestfwd rule cannot hold a comma: {rule!r}")
        self._proc: subprocess.Popen[bytes] | None = None
        self.ssh_port = 0
        self.forwarded: dict[int, int] = {}  # guest port -> host loopback port, set at first boot
        if overlay_root:
            self.root_disk = self.workdir / "root.qcow2"
            overlay = ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(assets.root_image)]
            run_host([*overlay, str(self.root_disk)])
        else:
            self.root_disk = assets.root_image
        self.data_disks: dict[str, Path] = {}
        for serial, size in (data_disks or {}).items():
            self.add_data_disk(serial, size)
        self.readonly_disks: dict[str, Path] = {}
        for serial, path in (readonly_disks or {}).items():
            self.check_serial(serial)
            self.readonly_disks[serial] = Path(path)
        self.boot_seconds: float | None = None  # of the last boot: qemu start to ready line
        self.boot_id: str | None = None
        self._boot_offset = 0
        _LIVE_VMS.add(self)

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _qemu_argv(self) -> list[str]:
        forwards = [f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22"]
        forwards += [f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" for guest, host in self.forwarded.items()]
        root_format = "qcow2" if self.root_disk.suffix == ".qcow2" else "raw"
        argv = [
            "qemu-system-x86_64", "-name", f"vmlab-{self.name}", "-nodefaults", "-no-user-config",
            "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", str(self.smp), "-m", str(self.memory_mb),
            "-display", "none", "-no-reboot", "-bios", "qboot.rom",  # qboot: quicker than SeaBIOS
            "-chardev", f"file,id=console,path={self.console_log},append=on", "-serial", "chardev:console",
            "-kernel", str(self.assets.kernel), "-initrd", str(self.assets.initramfs), "-append", KERNEL_CMDLINE,
            # The overlay honours guest flushes (qcow2 metadata must survive hard_kill); raw data
            # disks are written straight through, so ignoring flushes loses nothing when qemu dies.
            "-drive", f"file={self.root_disk},format={root_format},if=none,id=root,cache=writeback",
            "-device", "virtio-blk-pci,drive=root,serial=root",
        ]  # fmt: skip
        for index, (serial, path) in enumerate(self.data_disks.items()):
            argv += ["-drive", f"file={path},format=raw,if=none,id=data{index},cache=unsafe"]
            argv += ["-device", f"virtio-blk-pci,drive=data{index},serial={serial}"]
        for index, (serial, path) in enumerate(self.readonly_disks.items()):
            argv += ["-drive", f"file={path},format=raw,if=none,id=ro{index},readonly=on"]
            argv += ["-device", f"virtio-blk-pci,drive=ro{index},serial={serial}"]
        argv += ["-device", "virtio-rng-pci"]
        argv += self.extra_qemu_args
        forwards += [f"guestfwd={rule}" for rule in self.guest_forwards]
        argv += ["-nic", "user,model=virtio-net-pci,restrict=on," + ",".join(forwards)]
        return argv

    def boot(self, timeout: float | None = None) -> float:
        """Starts qemu and waits for the guest's ready line and a working SSH login. Returns the
        seconds it took. Raises VMError (with the console tail) on failure, leaving qemu dead."""
        if self.running:
            raise VMError(f"{self.name} is already running")
        timeout = timeout or DEFAULT_BOOT_TIMEOUT[self.flavour]
        first_boot = not self.ssh_port
        for attempt in range(4):
            if first_boot:
                self.ssh_port = free_port()
                self.forwarded = {guest: free_port() for guest in self._guest_ports}
            self.write_ssh_files()
            self._boot_offset = self.console_log.stat().st_size if self.console_log.exists() else 0
            started = time.monotonic()
            with open(self.qemu_log, "ab") as qemu_log:
                main_thread = threading.current_thread() is threading.main_thread()
                self._proc = subprocess.Popen(
                    self._qemu_argv(),
                    stdin=subprocess.DEVNULL,
                    stdout=qemu_log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent if main_thread else None,  # noqa: PLW1509
                )
            try:
                self._wait_ready(started + timeout)
            except _PortTaken:
                self._reap()
                if attempt == 3 or not first_boot:
                    raise VMError(f"{self.name}: host port taken: {self._qemu_log_tail()}") from None
                continue
            except BaseException:
                self.hard_kill()
                raise
            self.boot_seconds = time.monotonic() - started
            log.info("vmlab: %s booted in %.1fs", self.name, self.boot_seconds)
            return self.boot_seconds
        raise AssertionError("unreachable")

    def _qemu_log_tail(self) -> str:
        try:
            return self.qemu_log.read_text(errors="replace")[-2000:]
        except FileNotFoundError:
            return ""

    def console(self) -> str:
        """Serial console output of the current (or last) boot."""
        try:
            with open(self.console_log, "rb") as handle:
                handle.seek(self._boot_offset)
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while True:
            text = self.console()
            ready = READY_RE.search(text)
            if ready:
                self.boot_id = ready.group(1)
                break
            if FAILED_RE.search(text):
                raise VMError(f"{self.name}: boot failed:\n{text[-3000:]}")
            if self._proc.poll() is not None:
                qemu_log = self._qemu_log_tail()
                if "Could not set up host forwarding rule" in qemu_log:
                    raise _PortTaken()
                raise VMError(
                    f"{self.name}: qemu exited ({self._proc.returncode}) before ready\n"
                    f"--- qemu ---\n{qemu_log}\n--- console ---\n{text[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise VMError(f"{self.name}: no ready line in time\n--- console ---\n{text[-3000:]}")
            time.sleep(0.2)
        # The ready line comes after sshd started; one login proves keys and host key.
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self.ssh("true", timeout=30)
                return
            except (VMCommandError, subprocess.TimeoutExpired) as error:
                last = error
                time.sleep(0.5)
        raise VMError(f"{self.name}: ready but SSH login fails: {last}")

    def _reap(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            self._proc.wait()
        self.forget_docker()

    def hard_kill(self) -> None:
        """Pulls the plug: SIGKILL to qemu (what a crash or power cut does to the guest)."""
        self._reap()

    def poweroff(self, timeout: float = 180.0) -> float:
        """Clean power-off from inside the guest (dockerd stopped, data filesystems unmounted,
        mappings closed, root read-only). Raises VMError if it did not complete cleanly."""
        if not self.running:
            return 0.0
        assert self._proc is not None
        started = time.monotonic()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.ssh("poweroff", timeout=30, check=False)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.hard_kill()
            raise VMError(
                f"{self.name}: clean power-off took over {timeout}s; killed\n{self.console()[-3000:]}"
            ) from None
        self.forget_docker()
        if not SHUTDOWN_RE.search(self.console()):
            raise VMError(f"{self.name}: powered off without a clean shutdown\n{self.console()[-3000:]}")
        return time.monotonic() - started

    def reboot(self, timeout: float | None = None) -> float:
        """Clean power-off, then boot again on the same disks and ports. Returns boot seconds."""
        self.poweroff()
        return self.boot(timeout)

    def close(self) -> None:
        """Kills qemu if it runs and forgets host-side registrations. Idempotent."""
        if self.running:
            self.hard_kill()
        self.forget_docker()
        _LIVE_VMS.discard(self)

    def __enter__(self) -> VM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _PortTaken(Exception):
    pass
