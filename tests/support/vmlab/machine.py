"""vmlab: small qemu VMs for tests that need what this host's kernel lacks (device-mapper, so real
LUKS) or a remote Docker host reached over SSH.

One design, two flavours, both booted from Debian's kernel under TCG (no KVM here):

- ``luks``: Debian's real userland for the project's scripts (bash, coreutils, util-linux,
  e2fsprogs, cryptsetup, iptables-nft, sudo, ...), OpenSSH's sshd, no Docker. Boots fast.
- ``docker``: the same plus containerd, dockerd, runc, docker-proxy, docker-init and the docker CLI,
  started at boot, with test images (busybox, Traefik) baked into the cached root image.

Assets (kernel, initramfs, ext4 root image, SSH keys) are built from files on this machine and
cached under ``.cache/vmlab/<kind>-<hash of inputs>/``; a change to any input (guest files under
``tests/support/vmlab/``, the build code, package versions, the kernel) builds a new set. Each
``VM`` boots a copy-on-write overlay of the cached root image, so files written by the project
(crypttab, keyfiles, fstab, Docker state) survive its reboots but never leak into another VM.

Guest layout and boot order: see ``tests/support/vmlab/rootfs/etc/vmlab/boot``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import functools
import hashlib
import inspect
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from tests.support import images
from tests.support.net import free_port

log = logging.getLogger("vmlab")

REPO = Path(__file__).resolve().parents[2]
GUEST_FILES = Path(__file__).resolve().with_name("vmlab")
CACHE = Path(os.environ.get("VMLAB_CACHE", str(REPO / ".cache" / "vmlab")))

FLAVOURS = ("luks", "docker")
ROOT_DISK_BYTES = 4 * 1024**3  # sparse: room for file-backed volumes and Docker state
DEFAULT_MEMORY_MB = {"luks": 512, "docker": 1024}
DEFAULT_BOOT_TIMEOUT = {"luks": 180.0, "docker": 420.0}
KERNEL_CMDLINE = (
    "console=ttyS0 quiet loglevel=3 panic=-1 apparmor=0 mitigations=off net.ifnames=0 root=/dev/vda rw"
)
GUEST_ADDRESS = "10.0.2.15"
DOCKER_PORTS = (80, 443)  # forwarded to host loopback ports for the docker flavour

# Images baked into the docker flavour's root image (no registry anywhere).
BUSYBOX_IMAGE = "vmlab/busybox:latest"
TRAEFIK_IMAGE = "vmlab/traefik:latest"
PYTHON_STANDIN_IMAGE = "vmlab/python-standin:latest"  # listens on STANDIN_PORTS (default 8080)


@dataclass(frozen=True)
class BakedImage:
    rootfs: Callable[[Path], Path]  # writes a root filesystem tar (tests/support/images.py)
    changes: tuple[str, ...] = ()  # `docker import --change` lines


BAKED_IMAGES: Mapping[str, BakedImage] = {
    BUSYBOX_IMAGE: BakedImage(images.busybox_rootfs),
    TRAEFIK_IMAGE: BakedImage(images.traefik_rootfs),
    PYTHON_STANDIN_IMAGE: BakedImage(
        images.python_rootfs,
        tuple(line for line in images.standin_changes([]) if not line.startswith("ENV STANDIN_PORTS=")),
    ),
}

# Debian packages whose programs go into the guest, with every library `ldd` lists.
COMMON_PACKAGES = (
    "bash", "dash", "coreutils", "util-linux", "util-linux-extra", "mount", "e2fsprogs",
    "cryptsetup-bin", "grep", "sed", "mawk", "findutils", "diffutils", "kmod", "procps",
    "iptables", "sudo", "hostname", "iproute2", "tar", "gzip", "openssh-server", "openssh-sftp-server",
    "udev", "dmsetup",
)  # fmt: skip
DOCKER_PACKAGES = ("docker.io", "containerd", "runc", "tini")
# Inputs of the asset builds beyond the packages above.
HOST_PACKAGES = ("busybox-static", "linux-image-amd64", "libc6", "libpam-modules", "openssh-client")
SKIPPED_PROGRAMS = {"/usr/bin/dnet", "/usr/sbin/ovrouter"}  # docker.io extras nobody needs
# Loaded with dlopen, so ldd of the programs does not list them.
EXTRA_HOST_FILES = (
    "/usr/lib/x86_64-linux-gnu/libgcc_s.so.1",  # glibc dlopens it for pthread_exit (argon2 threads)
    "/usr/lib/x86_64-linux-gnu/xtables",  # iptables extensions
    "/usr/libexec/sudo",  # sudo plugins (sudoers.so)
    "/usr/lib/x86_64-linux-gnu/security/pam_permit.so",
    "/usr/lib/openssh/sftp-server",  # scp and sftp clients (Pulumi's CopyToRemote)
    "/usr/lib/systemd/systemd-udevd",
    "/etc/udev",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/mke2fs.conf",
    "/etc/os-release",
    "/etc/protocols",
    "/etc/services",
    "/etc/ethertypes",
    "/etc/sudo.conf",
    "/etc/alternatives/awk",
)
DOCKER_EXTRA_HOST_FILES = ("/etc/containerd/config.toml",)
# busybox covers odds and ends only; Debian's programs always win (an applet is linked into
# /usr/local/bin only when no real program of that name is in the image).
BUSYBOX_APPLETS = ("wget", "nc", "ping", "vi", "xxd", "hexdump", "netstat", "telnet", "less")
IPTABLES_PROGRAMS = (
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
)
INITRAMFS_MODULES = ("virtio_pci", "virtio_blk", "ext4")
MODULE_TREES = (
    "kernel/arch", "kernel/block", "kernel/crypto", "kernel/lib", "kernel/mm", "kernel/net",
    "kernel/virt", "kernel/drivers/block", "kernel/drivers/md", "kernel/drivers/char",
    "kernel/drivers/virtio", "kernel/fs/ext4", "kernel/fs/jbd2", "kernel/fs/overlayfs",
)  # fmt: skip
MODULE_GLOBS = ("kernel/drivers/net/*.ko", "kernel/fs/*.ko", "modules.order", "modules.builtin*")

SERIAL_RE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
# Lines the guest scripts print on the serial console ("vmlab: [uptime] message").
READY_RE = re.compile(r"^vmlab: \[[\d.]+\] ready boot_id=(\S+)", re.MULTILINE)
FAILED_RE = re.compile(r"^vmlab: (?:\[[\d.]+\] )?boot failed.*$", re.MULTILINE)
SHUTDOWN_RE = re.compile(r"^vmlab: \[[\d.]+\] shutdown complete", re.MULTILINE)

# Seconds spent building each asset kind in this process (only builds that really ran).
BUILD_TIMES: dict[str, float] = {}


class VMError(RuntimeError):
    """A VM did not boot, power off or answer as expected (message carries the console tail)."""


class VMCommandError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        out = (self.stdout or b"").decode(errors="replace")[-2000:]
        err = (self.stderr or b"").decode(errors="replace")[-2000:]
        return f"{super().__str__()}\n--- stdout ---\n{out}\n--- stderr ---\n{err}"


# --------------------------------------------------------------------------------------------
# Asset building
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assets:
    """Everything needed to boot one flavour. The root image is a read-only base: VMs boot
    qcow2 overlays of it."""

    flavour: str
    kernel: Path
    initramfs: Path
    root_image: Path
    private_key: Path  # OpenSSH ed25519 key authorized for root and deploy
    host_key: str  # "ssh-ed25519 AAAA..." of the guest's sshd
    images: tuple[str, ...] = ()


def _run(argv: Sequence[str | os.PathLike[str]], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("check", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("capture_output", True)
    try:
        return subprocess.run([str(a) for a in argv], **kwargs)
    except subprocess.CalledProcessError as error:
        raise VMError(f"{shlex.join(map(str, argv))} failed ({error.returncode}): {error.stderr}") from error


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


@functools.cache
def kernel_version() -> str:
    """The newest Debian kernel in /boot that has its modules installed."""
    found = [
        path.name.removeprefix("vmlinuz-")
        for path in Path("/boot").glob("vmlinuz-*")
        if (Path("/lib/modules") / path.name.removeprefix("vmlinuz-")).is_dir()
    ]
    if not found:
        raise VMError("no /boot/vmlinuz-* with /lib/modules: apt-get install linux-image-amd64")
    return max(found, key=_version_key)


def _package_versions(packages: Iterable[str]) -> str:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise VMError(f"vmlab needs these Debian packages (see .ci/apt-packages): {result.stderr.strip()}")
    return result.stdout


def _file_signature(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(oct(path.stat().st_mode & 0o7777).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _digest(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if callable(part):
            part = inspect.getsource(part)  # the build code itself is an input
        digest.update(repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _cached(kind: str, key: str, build: Callable[[Path], None]) -> Path:
    """Returns CACHE/<kind>-<key>, building it once (under a lock, into a temporary directory
    renamed into place) when it is missing. Safe with several pytest processes at once."""
    final = CACHE / f"{kind}-{key}"
    if (final / ".complete").exists():
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{kind}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / ".complete").exists():
            return final
        work = Path(tempfile.mkdtemp(prefix=f".{kind}-{key}-", dir=CACHE))
        started = time.monotonic()
        try:
            build(work)
            seconds = time.monotonic() - started
            (work / ".complete").write_text(f"built in {seconds:.1f}s\n")
            if final.exists():
                shutil.rmtree(final)
            work.rename(final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        BUILD_TIMES[kind] = seconds
        log.info("vmlab: built %s in %.1fs", final.name, seconds)
    _prune(kind, keep=final)
    return final


def _prune(kind: str, keep: Path, max_age_seconds: float = 86400.0) -> None:
    """Removes other cache entries of this kind (and abandoned build directories) untouched for
    a day: old enough that no test session still boots from them."""
    now = time.time()
    for path in CACHE.glob(f"*{kind}-*"):
        name = path.name.lstrip(".")
        same_kind = re.fullmatch(re.escape(kind) + r"-[0-9a-f]{16}(-.*)?", name)
        if path == keep or not same_kind or not path.is_dir():
            continue
        if now - path.stat().st_mtime > max_age_seconds:
            shutil.rmtree(path, ignore_errors=True)


class _Installer:
    """Copies host files into a staging tree at the same absolute paths, keeping symlinks (and
    copying what they point to), following Debian's merged /usr."""

    def __init__(self, stage: Path) -> None:
        self.stage = stage
        self.done: set[str] = set()
        self.elf_files: list[str] = []

    def install(self, source: str) -> None:
        path = os.path.normpath(source)
        path = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        if path in self.done:
            return
        self.done.add(path)
        target = self.stage / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.islink(path):
            link = os.readlink(path)
            if not target.is_symlink() and not target.exists():
                os.symlink(link, target)
            self.install(os.path.join(os.path.dirname(path), link))
        elif os.path.isdir(path):
            target.mkdir(exist_ok=True)
            for child in sorted(os.listdir(path)):
                self.install(os.path.join(path, child))
        elif os.path.isfile(path):
            shutil.copy2(path, target)
            with open(path, "rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    self.elf_files.append(path)
        else:
            raise VMError(f"cannot stage {path}: not a file, directory or symlink")

    def install_libraries(self) -> None:
        """Installs the libraries ldd lists for every ELF file staged so far (ldd prints the
        whole closure, so one pass is enough)."""
        files = sorted(set(self.elf_files))
        for start in range(0, len(files), 200):
            result = subprocess.run(["ldd", *files[start : start + 200]], capture_output=True, text=True)
            for match in re.finditer(r"(?:=>\s*|^\s+)(/\S+)\s+\(0x", result.stdout, re.MULTILINE):
                self.install(match.group(1))


def _package_programs(packages: Iterable[str]) -> list[str]:
    listing = _run(["dpkg", "-L", *packages]).stdout.splitlines()
    programs = []
    for line in listing:
        in_bin_dir = re.match(r"^/(usr/)?s?bin/[^/]+$", line)
        if in_bin_dir and line not in SKIPPED_PROGRAMS and os.path.lexists(line):
            programs.append(line)
    return programs


def _module_dir(kver: str) -> Path:
    return Path(os.path.realpath(f"/lib/modules/{kver}"))


def _stage_modules(stage: Path, kver: str) -> None:
    source = _module_dir(kver)
    target = stage / "usr/lib/modules" / kver
    for tree in MODULE_TREES:
        if (source / tree).is_dir():
            shutil.copytree(source / tree, target / tree, symlinks=True)
    for pattern in MODULE_GLOBS:
        for path in source.glob(pattern):
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.relative_to(source))
    _run(["depmod", "-b", stage, kver])


def _show_depends(kver: str, module: str) -> list[Path]:
    lines = _run(["modprobe", "-S", kver, "--show-depends", module]).stdout.splitlines()
    return [Path(line.split()[1]) for line in lines if line.startswith("insmod ")]


def _build_boot(work: Path) -> None:
    """Kernel and a tiny initramfs (busybox, virtio + ext4 modules, GUEST_FILES/initramfs-init)."""
    kver = kernel_version()
    shutil.copyfile(f"/boot/vmlinuz-{kver}", work / "vmlinuz")
    stage = work / "initramfs"
    for directory in ("bin", "dev", "proc", "sys", "newroot", "modules"):
        (stage / directory).mkdir(parents=True)
    shutil.copy2("/bin/busybox", stage / "bin/busybox")
    for applet in ("sh", "mount", "umount", "insmod", "mkdir", "sleep", "switch_root", "echo", "cat"):
        os.symlink("busybox", stage / "bin" / applet)
    os.mknod(stage / "dev/console", 0o600 | 0o020000, os.makedev(5, 1))  # stdio of /init
    order: list[str] = []
    for module in INITRAMFS_MODULES:
        for path in _show_depends(kver, module):
            if path.name not in order:
                order.append(path.name)
                shutil.copy2(path, stage / "modules" / path.name)
    (stage / "modules/load-order").write_text("".join(f"{name}\n" for name in order))
    shutil.copy2(GUEST_FILES / "initramfs-init", stage / "init")
    os.chmod(stage / "init", 0o755)  # noqa: S103 - the kernel executes it
    with open(work / "initramfs.cpio.gz", "wb") as out:
        find = subprocess.Popen(["find", ".", "-print0"], cwd=stage, stdout=subprocess.PIPE)
        cpio = subprocess.Popen(
            ["cpio", "--null", "-o", "-H", "newc", "-R", "0:0", "--quiet"],
            cwd=stage,
            stdin=find.stdout,
            stdout=subprocess.PIPE,
        )
        assert find.stdout is not None and cpio.stdout is not None
        find.stdout.close()
        gzip = subprocess.run(["gzip", "-1"], stdin=cpio.stdout, stdout=out, check=False)
        cpio.stdout.close()
        if find.wait() or cpio.wait() or gzip.returncode:
            raise VMError("building the initramfs failed")
    shutil.rmtree(stage)


def _make_keys(work: Path, stage: Path) -> None:
    """A client key (authorized for root and deploy) and the guest's sshd host key, new for
    every build: nothing outside this cache entry can log in."""
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmlab", "-f", work / "id_ed25519"])
    os.chmod(work / "id_ed25519", 0o600)
    host_key = stage / "etc/ssh/ssh_host_ed25519_key"
    host_key.parent.mkdir(parents=True, exist_ok=True)
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmlab-host", "-f", host_key])
    public = host_key.with_name(host_key.name + ".pub").read_text()
    (work / "host_key.pub").write_text(" ".join(public.split()[:2]) + "\n")
    authorized = (work / "id_ed25519.pub").read_text()
    for home, uid in (("root", 0), ("home/deploy", 1000)):
        ssh_dir = stage / home / ".ssh"
        ssh_dir.mkdir(parents=True, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(authorized)
        os.chmod(ssh_dir, 0o700)
        os.chmod(ssh_dir / "authorized_keys", 0o600)
        for path in (stage / home, ssh_dir, ssh_dir / "authorized_keys"):
            os.chown(path, uid, uid)


def _stage_alternatives(installer: _Installer) -> None:
    """Debian's alternatives links (awk -> mawk, ...) are not in any package's file list: take
    the host's links whose program is staged. iptables is pinned to the nft backend, as on a
    current Debian/Ubuntu server, whatever this machine selected."""
    for directory in ("/usr/bin", "/usr/sbin"):
        for entry in os.scandir(directory):
            alternative = entry.is_symlink() and os.readlink(entry.path).startswith("/etc/alternatives/")
            if alternative and os.path.realpath(entry.path) in installer.done:
                installer.install(entry.path)
    alternatives = installer.stage / "etc/alternatives"
    alternatives.mkdir(parents=True, exist_ok=True)
    for name in IPTABLES_PROGRAMS:
        for link, target in (
            (alternatives / name, f"/usr/sbin/{name}-nft"),
            (installer.stage / "usr/sbin" / name, f"/etc/alternatives/{name}"),
        ):
            if link.is_symlink() or link.exists():
                link.unlink()
            os.symlink(target, link)


def _stage_root(work: Path, stage: Path, flavour: str) -> None:
    kver = kernel_version()
    for name, target in (
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
    ):
        (stage / target).mkdir(parents=True, exist_ok=True)
        os.symlink(target, stage / name)
    for directory in ("proc", "sys", "dev", "run", "mnt", "srv", "opt", "var/log", "var/lib", "usr/local/bin",
                      "usr/local/sbin", "usr/lib/vmlab", "home/deploy", "root"):  # fmt: skip
        (stage / directory).mkdir(parents=True, exist_ok=True)
    for directory in ("tmp", "var/tmp"):
        (stage / directory).mkdir(parents=True, exist_ok=True)
        os.chmod(stage / directory, 0o1777)  # noqa: S103 - sticky /tmp of the guest, as on Debian
    os.chmod(stage / "root", 0o700)
    os.symlink("../run", stage / "var/run")
    os.symlink("../run/lock", stage / "var/lock")

    installer = _Installer(stage)
    packages = COMMON_PACKAGES + (DOCKER_PACKAGES if flavour == "docker" else ())
    for program in _package_programs(packages):
        installer.install(program)
    extras = EXTRA_HOST_FILES + (DOCKER_EXTRA_HOST_FILES if flavour == "docker" else ())
    # udev rules and helpers as installed (device-mapper's, persistent storage, ...); not the
    # hardware database sources (20 MB the lab's virtual hardware does not need).
    extras += tuple(
        f"/usr/lib/udev/{entry}" for entry in sorted(os.listdir("/usr/lib/udev")) if entry != "hwdb.d"
    )
    for extra in extras:
        if os.path.lexists(extra):
            installer.install(extra)
    _stage_alternatives(installer)
    installer.install_libraries()
    if not (stage / "usr/bin/sh").exists():
        os.symlink("dash", stage / "usr/bin/sh")

    shutil.copy2("/bin/busybox", stage / "usr/lib/vmlab/busybox")
    for applet in ("init", "poweroff", "reboot", "halt"):
        os.symlink("../lib/vmlab/busybox", stage / "usr/sbin" / applet)
    for applet in BUSYBOX_APPLETS:
        if not any((stage / d / applet).exists() for d in ("usr/bin", "usr/sbin")):
            os.symlink("../../lib/vmlab/busybox", stage / "usr/local/bin" / applet)

    _stage_modules(stage, kver)
    shutil.copytree(GUEST_FILES / "rootfs", stage, symlinks=True, dirs_exist_ok=True)
    if flavour == "docker":
        shutil.copytree(GUEST_FILES / "rootfs-docker", stage, symlinks=True, dirs_exist_ok=True)
    (stage / "etc/vmlab/flavour").write_text(f"{flavour}\n")
    os.chmod(stage / "etc/sudoers", 0o440)
    os.chmod(stage / "etc/shadow", 0o640)
    _make_keys(work, stage)
    _run(["ldconfig", "-r", stage])


def _build_root(work: Path, flavour: str) -> None:
    stage = work / "stage"
    stage.mkdir()
    _stage_root(work, stage, flavour)
    _run([
        "mke2fs", "-q", "-F", "-t", "ext4", "-L", f"vmlab-{flavour}",
        "-E", "root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0",
        "-d", stage, work / "root.img", str(ROOT_DISK_BYTES // 1024) + "k",
    ])  # fmt: skip
    shutil.rmtree(stage)
    os.chmod(work / "root.img", 0o444)


def _bake_images(work: Path, base: Assets, bake: Mapping[str, BakedImage]) -> None:
    """Boots the docker flavour once, imports the image root filesystems (attached as read-only
    raw disks: much faster than piping them through SSH under emulation), powers off cleanly
    and keeps the resulting root image."""
    root = work / "root.img"
    _run(["cp", "--sparse=always", base.root_image, root])
    os.chmod(root, 0o644)
    tars: dict[str, Path] = {}
    for index, image in enumerate(bake.values()):
        tars[f"import-{index}"] = image.rootfs(work / f"import-{index}.tar")
    vm = VM(
        replace(base, root_image=root), work / "run", name="bake", readonly_disks=tars, overlay_root=False
    )
    try:
        vm.boot()
        for serial, (name, image) in zip(tars, bake.items(), strict=True):
            changes = [arg for change in image.changes for arg in ("--change", change)]
            vm.ssh(["docker", "import", *changes, vm.by_id(serial), name], timeout=600)
        listed = vm.ssh("docker image ls --format '{{.Repository}}:{{.Tag}}'").stdout.decode().split()
        missing = set(bake) - set(listed)
        if missing:
            raise VMError(f"baking images failed: {sorted(missing)} not in {listed}")
        vm.poweroff()
    finally:
        vm.close()
    for path in tars.values():
        path.unlink()
    shutil.rmtree(work / "run")
    _run(["e2fsck", "-f", "-n", root])  # a clean power-off leaves a clean filesystem
    os.chmod(root, 0o444)


_build_lock = threading.Lock()


@functools.cache
def _build_assets_cached(flavour: str) -> Assets:
    kver = kernel_version()
    boot_key = _digest(
        kver,
        _file_signature(Path(f"/boot/vmlinuz-{kver}")),
        _package_versions(("busybox-static",)),
        (GUEST_FILES / "initramfs-init").read_bytes(),
        INITRAMFS_MODULES,
        _build_boot,
        _show_depends,
    )
    boot = _cached("boot", boot_key, _build_boot)
    packages = COMMON_PACKAGES + HOST_PACKAGES + (DOCKER_PACKAGES if flavour == "docker" else ())
    root_key = _digest(
        flavour,
        kver,
        _package_versions(packages),
        _tree_digest(GUEST_FILES / "rootfs"),
        _tree_digest(GUEST_FILES / "rootfs-docker") if flavour == "docker" else "",
        (COMMON_PACKAGES, DOCKER_PACKAGES, EXTRA_HOST_FILES, DOCKER_EXTRA_HOST_FILES, BUSYBOX_APPLETS),
        (MODULE_TREES, MODULE_GLOBS, ROOT_DISK_BYTES),
        _Installer,
        _package_programs,
        _stage_alternatives,
        _stage_modules,
        _make_keys,
        _stage_root,
        _build_root,
    )
    root = _cached(f"root-{flavour}", root_key, lambda work: _build_root(work, flavour))
    assets = Assets(
        flavour=flavour,
        kernel=boot / "vmlinuz",
        initramfs=boot / "initramfs.cpio.gz",
        root_image=root / "root.img",
        private_key=root / "id_ed25519",
        host_key=(root / "host_key.pub").read_text().strip(),
    )
    if flavour != "docker":
        return assets
    traefik = images.TRAEFIK_BINARY if images.TRAEFIK_BINARY.exists() else Path(shutil.which("traefik") or "")
    baked_key = _digest(
        root_key,
        boot_key,
        tuple((name, image.changes) for name, image in BAKED_IMAGES.items()),
        inspect.getsource(images),
        _tree_digest(images.STANDINS),
        _file_signature(images.BUSYBOX),
        _file_signature(images.PYTHON),
        _file_signature(traefik) if traefik.is_file() else "no traefik",
        _bake_images,
    )
    baked = _cached("root-docker-baked", baked_key, lambda work: _bake_images(work, assets, BAKED_IMAGES))
    return replace(assets, root_image=baked / "root.img", images=tuple(BAKED_IMAGES))


def build_assets(flavour: str) -> Assets:
    """The assets of a flavour, built on first use and cached on disk (and in this process)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown vmlab flavour {flavour!r}; expected one of {FLAVOURS}")
    if os.geteuid() != 0:
        raise VMError(
            "vmlab builds need root (Debian's /boot/vmlinuz-* is root-only; images hold root-owned files)"
        )
    with _build_lock:
        return _build_assets_cached(flavour)


# --------------------------------------------------------------------------------------------
# Running VMs
# --------------------------------------------------------------------------------------------

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


def parse_size(size: int | str) -> int:
    """Bytes from 123, "64M", "1G", "512MiB"."""
    if isinstance(size, int):
        return size
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(i?B)?\s*", size, re.IGNORECASE)
    if not match:
        raise ValueError(f"bad size {size!r}")
    return int(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " ")


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


class VM:
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
        self._proc: subprocess.Popen[bytes] | None = None
        self.ssh_port = 0
        self.forwarded: dict[int, int] = {}  # guest port -> host loopback port, set at first boot
        if overlay_root:
            self.root_disk = self.workdir / "root.qcow2"
            overlay = ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(assets.root_image)]
            _run([*overlay, str(self.root_disk)])
        else:
            self.root_disk = assets.root_image
        self.data_disks: dict[str, Path] = {}
        for serial, size in (data_disks or {}).items():
            self.add_data_disk(serial, size)
        self.readonly_disks: dict[str, Path] = {}
        for serial, path in (readonly_disks or {}).items():
            self._check_serial(serial)
            self.readonly_disks[serial] = Path(path)
        self.boot_seconds: float | None = None  # of the last boot: qemu start to ready line
        self.boot_id: str | None = None
        self._boot_offset = 0
        self._docker: Any = None
        self._registered_config: Path | None = None
        _LIVE_VMS.add(self)

    # ---- disks -------------------------------------------------------------------------------

    def _check_serial(self, serial: str) -> None:
        if not SERIAL_RE.match(serial) or serial == "root":
            raise ValueError(f"disk serial {serial!r}: 1-20 of [A-Za-z0-9_-], not 'root'")
        if serial in getattr(self, "data_disks", {}) or serial in getattr(self, "readonly_disks", {}):
            raise ValueError(f"disk serial {serial!r} is already attached")

    def add_data_disk(self, serial: str, size: int | str = "256M") -> Path:
        """A new sparse raw disk, /dev/disk/by-id/virtio-<serial> in the guest from the next boot."""
        if self.running:
            raise VMError("add data disks while the VM is off")
        self._check_serial(serial)
        path = self.workdir / f"{serial}.img"
        with open(path, "wb") as handle:
            handle.truncate(parse_size(size))
        self.data_disks[serial] = path
        return path

    @staticmethod
    def by_id(serial: str) -> str:
        """The guest path of a disk, as udev names it on a real server."""
        return f"/dev/disk/by-id/virtio-{serial}"

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
        argv += ["-nic", "user,model=virtio-net-pci,restrict=on," + ",".join(forwards)]
        return argv

    def _write_ssh_files(self) -> None:
        self.known_hosts.write_text(f"[127.0.0.1]:{self.ssh_port} {self.host_key}\n")
        self.ssh_config.write_text(
            f"# vmlab VM {self.name}: use with ssh -F (written by tests/support/vmlab.py)\n"
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
            self._write_ssh_files()
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
        self._forget_docker()

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
        self._forget_docker()
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
        self._forget_docker()
        _LIVE_VMS.discard(self)

    def __enter__(self) -> VM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- SSH ---------------------------------------------------------------------------------

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

    # ---- Docker (docker flavour) -------------------------------------------------------------

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
            from .docker_ssh import ssh_docker_client

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

    def _forget_docker(self) -> None:
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


class _PortTaken(Exception):
    pass


# --------------------------------------------------------------------------------------------
# pytest fixtures (tests/vm/conftest.py imports them; other tiers' conftests can do the same)
# --------------------------------------------------------------------------------------------

DEFAULT_DATA_DISKS: Mapping[str, str] = {"data1": "256M", "data2": "256M"}


class VMFactory:
    """Creates VMs for a test (or module) and kills every one of them at teardown."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.vms: list[VM] = []

    def __call__(
        self,
        flavour: str = "luks",
        *,
        name: str | None = None,
        data_disks: Mapping[str, int | str] | None = None,
        forward_ports: Iterable[int] = (),
        memory_mb: int | None = None,
        boot: bool = True,
        boot_timeout: float | None = None,
    ) -> VM:
        name = name or f"{flavour}{len(self.vms)}"
        vm = VM(
            build_assets(flavour),
            self.workdir / name,
            name=name,
            data_disks=data_disks,
            forward_ports=forward_ports,
            memory_mb=memory_mb,
        )
        self.vms.append(vm)
        if boot:
            vm.boot(boot_timeout)
        return vm

    def close_all(self) -> None:
        for vm in self.vms:
            vm.close()


@pytest.fixture(scope="session")
def vmlab_luks_assets() -> Assets:
    return build_assets("luks")


@pytest.fixture(scope="session")
def vmlab_docker_assets() -> Assets:
    return build_assets("docker")


@pytest.fixture
def vm_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VMFactory]:
    factory = VMFactory(tmp_path_factory.mktemp("vmlab"))
    yield factory
    factory.close_all()


@pytest.fixture(scope="module")
def module_vm_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VMFactory]:
    factory = VMFactory(tmp_path_factory.mktemp("vmlab-module"))
    yield factory
    factory.close_all()


@pytest.fixture
def luks_vm(vm_factory: VMFactory) -> VM:
    """A freshly booted luks-flavour VM with two blank 256 MiB data disks (data1, data2)."""
    return vm_factory("luks", data_disks=DEFAULT_DATA_DISKS)


@pytest.fixture(scope="module")
def module_luks_vm(module_vm_factory: VMFactory) -> VM:
    """One luks-flavour VM (data1, data2) shared by a test module."""
    return module_vm_factory("luks", data_disks=DEFAULT_DATA_DISKS)


@pytest.fixture
def docker_vm(vm_factory: VMFactory) -> VM:
    """A freshly booted docker-flavour VM with one blank 512 MiB data disk (data1)."""
    return vm_factory("docker", data_disks={"data1": "512M"})


@pytest.fixture(scope="module")
def module_docker_vm(module_vm_factory: VMFactory) -> VM:
    """One docker-flavour VM (data1) shared by a test module."""
    return module_vm_factory("docker", data_disks={"data1": "512M"})


def main(argv: Sequence[str] | None = None) -> int:
    """Boots a VM for manual poking: `python -m tests.support.vmlab [luks|docker]`."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("flavour", choices=FLAVOURS, nargs="?", default="luks")
    parser.add_argument("--data-disk", action="append", default=[], metavar="SERIAL=SIZE")
    args = parser.parse_args(argv)
    disks = dict(item.split("=", 1) for item in args.data_disk)
    workdir = Path(tempfile.mkdtemp(prefix=f"vmlab-{args.flavour}-"))
    with VM(build_assets(args.flavour), workdir, name=args.flavour, data_disks=disks) as vm:
        seconds = vm.boot()
        print(f"booted in {seconds:.1f}s; console: {vm.console_log}")
        print("ssh:", shlex.join([*vm.ssh_argv(), "--"]))
        for guest, host in vm.forwarded.items():
            print(f"guest port {guest} -> 127.0.0.1:{host}")
        with contextlib.suppress(KeyboardInterrupt):
            print("Ctrl-C powers the VM off")
            while vm.running:
                time.sleep(1)
        if vm.running:
            vm.poweroff()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
