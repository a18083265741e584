"""vmlab: small qemu VMs for tests that need what this host's kernel lacks (device-mapper, so real
LUKS) or a remote Docker host reached over SSH.

One design, two flavours, both booted from Debian's kernel under TCG (no KVM here):

- ``luks``: Debian's real userland for the project's scripts (bash, coreutils, util-linux,
  e2fsprogs, cryptsetup, iptables-nft, sudo, ...), OpenSSH's sshd, no Docker. Boots fast.
- ``docker``: the same plus containerd, dockerd, runc, docker-proxy, docker-init and the docker CLI,
  started at boot, with test images (busybox, Traefik) baked into the cached root image.

Assets (kernel, initramfs, ext4 root image, SSH keys) are built from files on this machine and
cached under ``~/.cache/encrypted-platform/vmlab/<kind>-<hash of inputs>/``; a change to any input (guest files under
``tests/support/vmlab/``, the build code, package versions, the kernel) builds a new set. Each
``VM`` boots a copy-on-write overlay of the cached root image, so files written by the project
(crypttab, keyfiles, fstab, Docker state) survive its reboots but never leak into another VM.

Guest layout and boot order: see ``tests/support/vmlab/rootfs/etc/vmlab/boot``.

Modules: ``machine`` (``VM``: the qemu lifecycle; ``disks`` and ``ssh`` are its disk and SSH
parts), ``fixtures`` (``VMFactory`` and the pytest fixtures), ``assets`` (``build_assets``, baked
images), ``guest_build`` (kernel, initramfs, root image), ``cache``, ``host`` (paths, errors).
"""
