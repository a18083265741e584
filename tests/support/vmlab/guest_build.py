"""Kernel and image preparation: the initramfs and the ext4 root image of a flavour, staged from
this machine's Debian files (packages, kernel modules, guest files) and cached."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .cache import cached, digest, file_signature, tree_digest
from .host import GUEST_FILES, Assets, VMError, run_host

ROOT_DISK_BYTES = 4 * 1024**3  # sparse: room for file-backed volumes and Docker state


# Debian packages whose programs go into the guest, with every library `ldd` lists.
COMMON_PACKAGES = (
    "bash", "dash", "coreutils", "util-linux", "util-linux-extra", "mount", "e2fsprogs",
    "cryptsetup-bin", "grep", "sed", "mawk", "findutils", "diffutils", "kmod", "procps",
    "iptables", "sudo", "hostname", "iproute2", "tar", "gzip", "openssh-server", "openssh-sftp-server",
    "udev", "dmsetup", "restic",
    # network-bound unlock: clevis' LUKS binding and Tang pin, and what they run
    "clevis", "clevis-luks", "jose", "luksmeta", "curl", "libpwquality-tools",
    # and its TPM 2.0 pin (tpm2-tools reach the TPM through a TCTI library they dlopen)
    "clevis-tpm2", "tpm2-tools", "libtss2-tcti-device0",
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
    "/etc/security/pwquality.conf",  # pwmake (clevis' key generator) reads it, and the
    "/var/cache/cracklib",  # dictionary cracklib-runtime's install builds (pwmake checks against it)
    "/usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0",  # tpm2-tools' /dev/tpmrm0 access (dlopen)
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
    listing = run_host(["dpkg", "-L", *packages]).stdout.splitlines()
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
    run_host(["depmod", "-b", stage, kver])


def _show_depends(kver: str, module: str) -> list[Path]:
    lines = run_host(["modprobe", "-S", kver, "--show-depends", module]).stdout.splitlines()
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
    run_host(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmlab", "-f", work / "id_ed25519"])
    os.chmod(work / "id_ed25519", 0o600)
    host_key = stage / "etc/ssh/ssh_host_ed25519_key"
    host_key.parent.mkdir(parents=True, exist_ok=True)
    run_host(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmlab-host", "-f", host_key])
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
    run_host(["ldconfig", "-r", stage])


def _build_root(work: Path, flavour: str) -> None:
    stage = work / "stage"
    stage.mkdir()
    _stage_root(work, stage, flavour)
    run_host([
        "mke2fs", "-q", "-F", "-t", "ext4", "-L", f"vmlab-{flavour}",
        "-E", "root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0",
        "-d", stage, work / "root.img", str(ROOT_DISK_BYTES // 1024) + "k",
    ])  # fmt: skip
    shutil.rmtree(stage)
    os.chmod(work / "root.img", 0o444)


@dataclass(frozen=True)
class BuiltGuest:
    """A flavour's boot files and root image, with the cache keys they were built under."""

    assets: Assets
    boot_key: str
    root_key: str


def build_guest(flavour: str) -> BuiltGuest:
    """The kernel, initramfs and root image of a flavour: from the cache, or built now."""
    kver = kernel_version()
    boot_key = digest(
        kver,
        file_signature(Path(f"/boot/vmlinuz-{kver}")),
        _package_versions(("busybox-static",)),
        (GUEST_FILES / "initramfs-init").read_bytes(),
        INITRAMFS_MODULES,
        _build_boot,
        _show_depends,
    )
    boot = cached("boot", boot_key, _build_boot)
    packages = COMMON_PACKAGES + HOST_PACKAGES + (DOCKER_PACKAGES if flavour == "docker" else ())
    root_key = digest(
        flavour,
        kver,
        _package_versions(packages),
        tree_digest(GUEST_FILES / "rootfs"),
        tree_digest(GUEST_FILES / "rootfs-docker") if flavour == "docker" else "",
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
    root = cached(f"root-{flavour}", root_key, lambda work: _build_root(work, flavour))
    assets = Assets(
        flavour=flavour,
        kernel=boot / "vmlinuz",
        initramfs=boot / "initramfs.cpio.gz",
        root_image=root / "root.img",
        private_key=root / "id_ed25519",
        host_key=(root / "host_key.pub").read_text().strip(),
    )
    return BuiltGuest(assets, boot_key, root_key)
