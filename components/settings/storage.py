"""Encryption at rest: how LUKS volumes are made, unlocked and rotated, and which volumes exist."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import ByteSize, Flag, Integer, Model, Owner
from .clevis import TangSettings, Tpm2Settings, tang_pin, tpm2_pin
from .grammar import PRINTABLE_LINE, grammar
from .keys import NAME_PREFIX, KeyProblem
from .paths import HostPath, PlatformDirectory, is_within

# The concept fixes these (AES-256 in XTS mode needs a 512-bit key); they are not settings.
LUKS_TYPE = "luks2"
LUKS_CIPHER = "aes-xts-plain64"
LUKS_KEY_SIZE_BITS = 512
LUKS_SUBSYSTEM = NAME_PREFIX
LUKS_SUBSYSTEM_PENDING = f"{NAME_PREFIX}:mkfs-pending"
MAPPER_PREFIX = "ep-"

MIN_VOLUME_BYTES = 64 * 1024**2  # 16 MiB LUKS2 header + a usable ext4 filesystem
MIN_VOLUME_TEXT = "64MiB"

# Device links that name the same disk after every reboot. /dev/vdX, /dev/sdX, /dev/nvmeXnY are
# numbered in probe order and can name another disk after a reboot or a hot-plug, and `luksFormat`
# (or `destroyDataOnDelete`) would then act on that disk. by-label and by-partlabel are left out on
# purpose: a label is whatever the last writer of a filesystem or partition table chose, two disks
# can carry the same one (a second disk or an attached stick then takes over the link), and
# luksFormat replaces the label of the device it formats.
STABLE_DEVICE_DIRECTORIES = (
    "/dev/disk/by-id/",
    "/dev/disk/by-path/",
    "/dev/disk/by-uuid/",
    "/dev/disk/by-partuuid/",
)
MIN_REASON_CHARACTERS = 10

# The platform's data classes (the concept's list), used when `volumes` is not set.
DEFAULT_VOLUMES = ("app-db", "vector-store", "documents", "config-secrets", "logs")

_MODE = grammar("octal mode", r"0?[0-7]{3}", "0700")


class KdfSettings(Model):
    """Key derivation for the passphrase key slots. Unset numbers let cryptsetup benchmark the
    host (production). Tests and emulated hosts set them explicitly to keep unlocks cheap."""

    pbkdf: Literal["argon2id", "argon2i", "pbkdf2"] = Field(
        "argon2id", description="Key derivation function (argon2id is memory-hard)."
    )
    memory_kib: Integer | None = Field(
        None, ge=32, le=4 * 1024 * 1024, description="argon2 memory cost in KiB."
    )
    iterations: Integer | None = Field(
        None, ge=1, le=100_000_000, description="Forced iteration count (skips cryptsetup's benchmark)."
    )
    parallel: Integer | None = Field(None, ge=1, le=4, description="argon2 threads.")
    iter_time_ms: Integer | None = Field(
        None, ge=100, le=60_000, description="Benchmark target unlock time in ms."
    )

    @model_validator(mode="after")
    def _consistent(self) -> KdfSettings:
        if self.pbkdf == "pbkdf2":
            if self.memory_kib is not None or self.parallel is not None:
                raise KeyProblem(
                    "memoryKib", "pbkdf2 has no memory or parallel cost; remove memoryKib/parallel"
                )
            if self.iterations is not None and self.iterations < 1000:
                raise KeyProblem("iterations", "pbkdf2 needs at least 1000 iterations")
        else:
            if self.iterations is not None and self.iterations < 4:
                raise KeyProblem("iterations", "argon2 needs at least 4 iterations")
            if self.iterations is not None and self.memory_kib is None:
                raise KeyProblem("memoryKib", "required when iterations is forced for argon2")
        if self.iterations is not None and self.iter_time_ms is not None:
            raise KeyProblem("iterTimeMs", "cannot be combined with forced iterations")
        return self


class EncryptionSettings(Model):
    """Config key `encryption`: defaults for every volume."""

    root: PlatformDirectory = Field("/srv/encrypted", description="Mount points live under this directory.")
    state_dir: PlatformDirectory = Field(
        "/var/lib/encrypted-platform",
        description="Image files of file-backed volumes live under this directory.",
    )
    keys_dir: PlatformDirectory = Field(
        "/etc/encrypted-platform/keys", description="Root-only keyfiles for crypttab unlock."
    )
    header_backup_dir: PlatformDirectory = Field(
        "/var/backups/encrypted-platform", description="LUKS header backups (root-only)."
    )
    unlock_at_boot: Literal["crypttab", "manual", "tang", "tpm2"] = Field(
        "crypttab",
        description="'crypttab': root-only keyfile, unlocked at boot. 'manual': no key on the host; "
        "after a reboot run `pulumi up` to unlock. 'tang': no key on the host; a clevis key slot "
        "bound to the Tang servers in encryption.tang unlocks at boot while they answer. 'tpm2': "
        "no key on the host; a clevis key slot sealed to this host's TPM unlocks at boot.",
    )
    tang: TangSettings = Field(
        default_factory=TangSettings, description="Tang servers for unlockAtBoot 'tang'."
    )
    tpm2: Tpm2Settings = Field(
        default_factory=Tpm2Settings, description="TPM policy for unlockAtBoot 'tpm2'."
    )
    kdf: KdfSettings = Field(default_factory=KdfSettings, description="Key derivation settings.")
    key_version: Integer = Field(
        1,
        ge=1,
        le=1_000_000,
        description="Raise by one to rotate every volume's passphrase (key slots only).",
    )
    reencrypt_generation: Integer = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Raise to re-encrypt every volume with a new volume key (slow: O(size)).",
    )
    filesystem: Literal["ext4"] = Field("ext4", description="Filesystem inside each LUKS mapping.")

    def clevis_config(self) -> str:
        """The clevis configuration a volume's extra key slot is bound with ("" for the modes
        that bind none)."""
        if self.unlock_at_boot == "tang":
            return tang_pin(self.tang)
        if self.unlock_at_boot == "tpm2":
            return tpm2_pin(self.tpm2)
        return ""

    @model_validator(mode="after")
    def _tang_servers(self) -> EncryptionSettings:
        if self.unlock_at_boot == "tang" and not self.tang.servers:
            raise KeyProblem(
                ("tang", "servers"),
                "unlockAtBoot 'tang' needs at least one Tang server (url and thumbprint)",
            )
        return self

    @model_validator(mode="after")
    def _separate_dirs(self) -> EncryptionSettings:
        # Each directory has its own owner and mode, and the mount points under `root` are where
        # containers write: a keyfile or a header backup below a mount point would be readable
        # (and replaceable) by a container, and root would follow what a container planted there.
        dirs = {
            "root": self.root,
            "stateDir": self.state_dir,
            "keysDir": self.keys_dir,
            "headerBackupDir": self.header_backup_dir,
        }
        for name, path in dirs.items():
            for other_name, other in dirs.items():
                if other_name != name and is_within(other, path):
                    relation = "is the same directory as" if other == path else "contains"
                    raise KeyProblem(
                        name, f"{path} {relation} {other_name} ({other}); each directory must stand apart"
                    )
        return self


def stable_device(path: str) -> bool:
    """`path` is a link that names the same disk after a reboot (one name below a by-* directory)."""
    return any(
        path.startswith(prefix) and "/" not in path[len(prefix) :] and len(path) > len(prefix)
        for prefix in STABLE_DEVICE_DIRECTORIES
    )


class VolumeSettings(Model):
    """One entry of config key `volumes`."""

    backing: Literal["file", "device"] = Field(
        "file", description="'device': a spare block device; 'file': a sparse image file on the host."
    )
    size: ByteSize = Field(1024**3, description="Size of the image file (file backing), e.g. '2GiB'.")
    device: HostPath | None = Field(
        None,
        description="Block device (device backing) by a stable name, e.g. /dev/disk/by-id/virtio-data "
        "(by-id, by-path, by-uuid or by-partuuid).",
    )
    unstable_device_reason: str | None = Field(
        None,
        description="Why `device` may be a name that can change across reboots (/dev/vdb, /dev/sdb...): "
        "required for such a name, refused otherwise.",
    )
    key_version: Integer | None = Field(
        None, ge=1, le=1_000_000, description="Overrides encryption.keyVersion for this volume."
    )
    reencrypt_generation: Integer | None = Field(
        None, ge=0, le=1_000_000, description="Overrides encryption.reencryptGeneration for this volume."
    )
    data_owner: Owner = Field("0:0", description="uid:gid owning the data directory (the container's user).")
    data_mode: str = Field(
        "0700",
        description="Permissions of the data directory: nothing for others, no group write.",
    )
    destroy_data_on_delete: Flag = Field(
        False,
        description="DANGER: when this volume is removed, erase its key slots and data. "
        "Must be applied in an update before the volume is removed.",
    )

    @field_validator("data_mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if not _MODE.matches(value):
            raise ValueError(f"must be an octal mode such as '0700', got {value!r}")
        mode = int(value, 8)
        if mode & 0o007:
            # The directory holds the decrypted data while the volume is mounted: any bit for
            # "other" hands it to every local user and to every container with another uid.
            raise ValueError(
                f"must grant nothing to others (the decrypted data while mounted), got {value!r}"
            )
        if mode & 0o020:
            raise ValueError(
                f"must not let the group write (only the owner writes a data class), got {value!r}"
            )
        return value if len(value) == 4 else "0" + value

    @field_validator("unstable_device_reason")
    @classmethod
    def _reason(cls, value: str | None) -> str | None:
        if value is not None and (
            not PRINTABLE_LINE.matches(value) or len(value.strip()) < MIN_REASON_CHARACTERS
        ):
            raise ValueError(
                f"must say in one line (at least {MIN_REASON_CHARACTERS} characters) why the device "
                f"name is stable on this host, got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _backing(self) -> VolumeSettings:
        if self.backing == "device":
            if not self.device:
                raise KeyProblem("device", "required when backing is 'device'")
            if not self.device.startswith("/dev/") or self.device.startswith("/dev/mapper/"):
                raise KeyProblem(
                    "device",
                    f"must be a block device under /dev/ (not a device-mapper name), got {self.device!r}",
                )
            stable = stable_device(self.device)
            if not stable and self.unstable_device_reason is None:
                raise KeyProblem(
                    "device",
                    f"{self.device} may name another disk after a reboot; use a stable link "
                    f"({', '.join(d + '...' for d in STABLE_DEVICE_DIRECTORIES)}: see `ls -l /dev/disk/by-id/`) "
                    "or say why it is stable in unstableDeviceReason",
                )
            if stable and self.unstable_device_reason is not None:
                raise KeyProblem(
                    "unstableDeviceReason", f"only for a device name that can change; {self.device} is stable"
                )
            if "size" in self.model_fields_set:
                raise KeyProblem(
                    "size", "only used when backing is 'file': a device volume has the size of its device"
                )
        else:
            if self.device:
                raise KeyProblem("device", "only used when backing is 'device'")
            if self.unstable_device_reason is not None:
                raise KeyProblem("unstableDeviceReason", "only used when backing is 'device'")
            if self.size < MIN_VOLUME_BYTES:
                raise KeyProblem(
                    "size",
                    f"must be at least {MIN_VOLUME_TEXT} (a 16MiB LUKS2 header and a filesystem), "
                    f"got {self.size} bytes",
                )
        return self


def default_volumes() -> dict[str, VolumeSettings]:
    return {name: VolumeSettings() for name in DEFAULT_VOLUMES}
