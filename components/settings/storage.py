"""Encryption at rest: how LUKS volumes are made, unlocked and rotated, and which volumes exist."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import AbsolutePath, ByteSize, Model

# The concept fixes these (AES-256 in XTS mode needs a 512-bit key); they are not settings.
LUKS_TYPE = "luks2"
LUKS_CIPHER = "aes-xts-plain64"
LUKS_KEY_SIZE_BITS = 512
LUKS_SUBSYSTEM = "encrypted-platform"
LUKS_SUBSYSTEM_PENDING = "encrypted-platform:mkfs-pending"
MAPPER_PREFIX = "ep-"

MIN_VOLUME_BYTES = 64 * 1024**2  # 16 MiB LUKS2 header + a usable ext4 filesystem

# The platform's data classes (the concept's list), used when `volumes` is not set.
DEFAULT_VOLUMES = ("app-db", "vector-store", "documents", "config-secrets", "logs")

_OWNER = re.compile(r"^\d{1,10}:\d{1,10}$")
_MODE = re.compile(r"^0?[0-7]{3}$")


class KdfSettings(Model):
    """Key derivation for the passphrase key slots. Unset numbers let cryptsetup benchmark the
    host (production). Tests and emulated hosts set them explicitly to keep unlocks cheap."""

    pbkdf: Literal["argon2id", "argon2i", "pbkdf2"] = Field(
        "argon2id", description="Key derivation function (argon2id is memory-hard)."
    )
    memory_kib: int | None = Field(None, ge=32, le=4 * 1024 * 1024, description="argon2 memory cost in KiB.")
    iterations: int | None = Field(
        None, ge=1, description="Forced iteration count (skips cryptsetup's benchmark)."
    )
    parallel: int | None = Field(None, ge=1, le=4, description="argon2 threads.")
    iter_time_ms: int | None = Field(
        None, ge=100, le=60_000, description="Benchmark target unlock time in ms."
    )

    @model_validator(mode="after")
    def _consistent(self) -> KdfSettings:
        if self.pbkdf == "pbkdf2":
            if self.memory_kib is not None or self.parallel is not None:
                raise ValueError(
                    "memoryKib: pbkdf2 has no memory or parallel cost; remove memoryKib/parallel"
                )
            if self.iterations is not None and self.iterations < 1000:
                raise ValueError("iterations: pbkdf2 needs at least 1000 iterations")
        else:
            if self.iterations is not None and self.iterations < 4:
                raise ValueError("iterations: argon2 needs at least 4 iterations")
            if self.iterations is not None and self.memory_kib is None:
                raise ValueError("memoryKib: required when iterations is forced for argon2")
        if self.iterations is not None and self.iter_time_ms is not None:
            raise ValueError("iterTimeMs: cannot be combined with forced iterations")
        return self


class EncryptionSettings(Model):
    """Config key `encryption`: defaults for every volume."""

    root: AbsolutePath = Field("/srv/encrypted", description="Mount points live under this directory.")
    state_dir: AbsolutePath = Field(
        "/var/lib/encrypted-platform",
        description="Image files of file-backed volumes live under this directory.",
    )
    keys_dir: AbsolutePath = Field(
        "/etc/encrypted-platform/keys", description="Root-only keyfiles for crypttab unlock."
    )
    header_backup_dir: AbsolutePath = Field(
        "/var/backups/encrypted-platform", description="LUKS header backups (root-only)."
    )
    unlock_at_boot: Literal["crypttab", "manual"] = Field(
        "crypttab",
        description="'crypttab': root-only keyfile, unlocked at boot. 'manual': no key on the host; "
        "after a reboot run `pulumi up` to unlock.",
    )
    kdf: KdfSettings = Field(default_factory=KdfSettings, description="Key derivation settings.")
    key_version: int = Field(
        1,
        ge=1,
        le=1_000_000,
        description="Raise by one to rotate every volume's passphrase (key slots only).",
    )
    reencrypt_generation: int = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Raise to re-encrypt every volume with a new volume key (slow: O(size)).",
    )
    filesystem: Literal["ext4"] = Field("ext4", description="Filesystem inside each LUKS mapping.")

    @model_validator(mode="after")
    def _distinct_dirs(self) -> EncryptionSettings:
        dirs = {
            "root": self.root,
            "stateDir": self.state_dir,
            "keysDir": self.keys_dir,
            "headerBackupDir": self.header_backup_dir,
        }
        for name, path in dirs.items():
            if path == "/":
                raise ValueError(f"{name}: must not be '/'")
            for other_name, other in dirs.items():
                if other_name != name and (other == path or other.startswith(path + "/")):
                    raise ValueError(f"{name}: must not contain {other_name} ({other})")
        return self


class VolumeSettings(Model):
    """One entry of config key `volumes`."""

    backing: Literal["file", "device"] = Field(
        "file", description="'device': a spare block device; 'file': a sparse image file on the host."
    )
    size: ByteSize = Field(1024**3, description="Size of the image file (file backing), e.g. '2GiB'.")
    device: AbsolutePath | None = Field(None, description="Block device (device backing), e.g. /dev/vdb.")
    key_version: int | None = Field(
        None, ge=1, le=1_000_000, description="Overrides encryption.keyVersion for this volume."
    )
    reencrypt_generation: int | None = Field(
        None, ge=0, le=1_000_000, description="Overrides encryption.reencryptGeneration for this volume."
    )
    data_owner: str = Field("0:0", description="uid:gid owning the data directory (the container's user).")
    data_mode: str = Field("0700", description="Permissions of the data directory.")
    destroy_data_on_delete: bool = Field(
        False,
        description="DANGER: when this volume is removed, erase its key slots and data. "
        "Must be applied in an update before the volume is removed.",
    )

    @field_validator("data_owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not _OWNER.match(value):
            raise ValueError(f"must be numeric 'uid:gid' such as '999:999', got {value!r}")
        return value

    @field_validator("data_mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if not _MODE.match(value):
            raise ValueError(f"must be an octal mode such as '0700', got {value!r}")
        return value if len(value) == 4 else "0" + value

    @model_validator(mode="after")
    def _backing(self) -> VolumeSettings:
        if self.backing == "device":
            if not self.device:
                raise ValueError("device: required when backing is 'device'")
            if not self.device.startswith("/dev/"):
                raise ValueError(f"device: must be a path under /dev/, got {self.device!r}")
        else:
            if self.device:
                raise ValueError("device: only used when backing is 'device'")
            if self.size < MIN_VOLUME_BYTES:
                raise ValueError(f"size: must be at least 64MiB (got {self.size} bytes)")
        return self


def default_volumes() -> dict[str, VolumeSettings]:
    return {name: VolumeSettings() for name in DEFAULT_VOLUMES}
