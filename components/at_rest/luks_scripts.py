"""Pure renderers for the LUKS shell programs (no Pulumi here).

The programs are real files under scripts/luks/: a parameter block (EP_* variables, all plain
values, never a key) followed by the function libraries and one program body. Keys travel only on
stdin. `invocation` wraps a program into the command line a Pulumi Command runs on the host.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from components.settings.keys import NAME_PREFIX
from components.settings.storage import (
    LUKS_CIPHER,
    LUKS_KEY_SIZE_BITS,
    LUKS_SUBSYSTEM,
    LUKS_SUBSYSTEM_PENDING,
    MAPPER_PREFIX,
    EncryptionSettings,
    VolumeSettings,
)
from components.shell import SCRIPTS_ROOT, heredoc_function, render_shell_program

SCRIPTS_DIR = SCRIPTS_ROOT / "luks"
VOLUME_LOCK_LIBRARY = SCRIPTS_ROOT / "volume_lock.sh"
COMMON_LIBRARY = SCRIPTS_ROOT / "common.sh"
ROOT_FILES_LIBRARY = SCRIPTS_ROOT / "root_files.sh"

# Order matters only for readability: every library defines functions, the program calls them.
LIBRARIES = (
    "lib.sh",
    "preflight.sh",
    "format.sh",
    "keys.sh",
    "open.sh",
    "filesystem.sh",
    "header_backup.sh",
    "clevis.sh",
    "boot.sh",
    "destroy.sh",
    "reencrypt.sh",
)
PROGRAMS = ("ensure", "delete", "reencrypt")
UNLOCK_HELPER = "unlock-at-boot.sh"

BINDS_DIRECTORY = "binds"

# The LUKS2 header area luksFormat writes: two copies of the metadata, then the key slots; the
# data starts right after it. These are cryptsetup's defaults, passed explicitly so the
# preflight checks exactly the bytes the format overwrites.
LUKS2_METADATA_SIZE_BYTES = 16 * 1024
LUKS2_KEYSLOTS_SIZE_BYTES = 16 * 1024 * 1024 - 2 * LUKS2_METADATA_SIZE_BYTES
LUKS2_HEADER_AREA_BYTES = 2 * LUKS2_METADATA_SIZE_BYTES + LUKS2_KEYSLOTS_SIZE_BYTES
SECTOR_BYTES = 512

_UUID_NAMESPACE = uuid.UUID("6f1c0d4e-5b7a-4d59-9a43-2f0e8c1b7d21")


def volume_uuid(project: str, stack: str, volume: str) -> str:
    """The LUKS UUID this stack gives a volume. Deterministic, so it is known at preview and a
    re-run recognises the device as its own; another stack's device has another UUID."""
    return str(uuid.uuid5(_UUID_NAMESPACE, f"{project}/{stack}/{volume}"))


@dataclass(frozen=True)
class LuksVolumeSpec:
    """Everything the programs need about one volume, as plain values."""

    volume: str
    backing: str  # "file" | "device"
    source: str  # block device or image file
    size_bytes: int
    mapper: str
    mount: str
    data_dir: str
    data_owner: str
    data_mode: str
    uuid: str
    label: str
    pbkdf: str
    pbkdf_memory_kib: int | None
    pbkdf_iterations: int | None
    pbkdf_parallel: int | None
    iter_time_ms: int | None
    filesystem: str
    unlock_at_boot: str
    keys_dir: str
    header_backup_dir: str
    key_version: int
    reencrypt_generation: int
    destroy_data: bool
    clevis_config: str = ""  # the clevis sss configuration (unlock_at_boot tang, tpm2), never a key
    cipher: str = LUKS_CIPHER
    key_size_bits: int = LUKS_KEY_SIZE_BITS

    @property
    def binds_dir(self) -> str:
        """Root-owned directory beside the data directory for directories bound on their own
        (see `secret_file.subdirectory_volume`); no container binds it as a whole."""
        return f"{self.mount}/{BINDS_DIRECTORY}"

    @property
    def mapper_path(self) -> str:
        return f"/dev/mapper/{self.mapper}"

    def params(self) -> dict[str, str]:
        def opt(value: int | None) -> str:
            return "" if value is None else str(value)

        return {
            "EP_VOLUME": self.volume,
            "EP_BACKING": self.backing,
            "EP_SOURCE": self.source,
            "EP_SIZE_BYTES": str(self.size_bytes),
            "EP_MAPPER": self.mapper,
            "EP_MOUNT": self.mount,
            "EP_DATA_DIR": self.data_dir,
            "EP_DATA_OWNER": self.data_owner,
            "EP_DATA_MODE": self.data_mode,
            "EP_UUID": self.uuid,
            "EP_LABEL": self.label,
            "EP_SUBSYSTEM": LUKS_SUBSYSTEM,
            "EP_SUBSYSTEM_PENDING": LUKS_SUBSYSTEM_PENDING,
            "EP_LUKS2_METADATA_SIZE": str(LUKS2_METADATA_SIZE_BYTES),
            "EP_LUKS2_KEYSLOTS_SIZE": str(LUKS2_KEYSLOTS_SIZE_BYTES),
            "EP_HEADER_AREA_BYTES": str(LUKS2_HEADER_AREA_BYTES),
            "EP_DATA_OFFSET_SECTORS": str(LUKS2_HEADER_AREA_BYTES // SECTOR_BYTES),
            "EP_CIPHER": self.cipher,
            "EP_KEY_SIZE": str(self.key_size_bits),
            "EP_PBKDF": self.pbkdf,
            "EP_PBKDF_MEMORY": opt(self.pbkdf_memory_kib),
            "EP_PBKDF_ITERATIONS": opt(self.pbkdf_iterations),
            "EP_PBKDF_PARALLEL": opt(self.pbkdf_parallel),
            "EP_ITER_TIME_MS": opt(self.iter_time_ms),
            "EP_FILESYSTEM": self.filesystem,
            "EP_FS_LABEL": self.volume[:16],
            "EP_UNLOCK_AT_BOOT": self.unlock_at_boot,
            "EP_KEYS_DIR": self.keys_dir,
            "EP_HEADER_BACKUP_DIR": self.header_backup_dir,
            "EP_KEY_VERSION": str(self.key_version),
            "EP_DESTROY_DATA": "yes" if self.destroy_data else "no",
            "EP_CLEVIS_CONFIG": self.clevis_config,
        }


def volume_spec(
    name: str,
    volume: VolumeSettings,
    encryption: EncryptionSettings,
    *,
    project: str,
    stack: str,
) -> LuksVolumeSpec:
    mount = f"{encryption.root}/{name}"
    source = volume.device if volume.backing == "device" else f"{encryption.state_dir}/volumes/{name}.img"
    assert source is not None
    kdf = encryption.kdf
    return LuksVolumeSpec(
        volume=name,
        backing=volume.backing,
        source=source,
        size_bytes=volume.size,
        mapper=f"{MAPPER_PREFIX}{name}",
        mount=mount,
        data_dir=f"{mount}/data",
        data_owner=volume.data_owner,
        data_mode=volume.data_mode,
        uuid=volume_uuid(project, stack, name),
        label=f"{NAME_PREFIX}:{name}",
        pbkdf=kdf.pbkdf,
        pbkdf_memory_kib=kdf.memory_kib,
        pbkdf_iterations=kdf.iterations,
        pbkdf_parallel=kdf.parallel,
        iter_time_ms=kdf.iter_time_ms,
        filesystem=encryption.filesystem,
        unlock_at_boot=encryption.unlock_at_boot,
        keys_dir=encryption.keys_dir,
        header_backup_dir=encryption.header_backup_dir,
        key_version=volume.key_version or encryption.key_version,
        reencrypt_generation=(
            volume.reencrypt_generation
            if volume.reencrypt_generation is not None
            else encryption.reencrypt_generation
        ),
        destroy_data=volume.destroy_data_on_delete,
        clevis_config=encryption.clevis_config(),
    )


def _read(relative: str) -> str:
    return (SCRIPTS_DIR / relative).read_text()


def unlock_helper_text() -> str:
    """/usr/local/sbin/encrypted-platform-unlock: the common and volume lock libraries, then the
    helper."""
    return render_shell_program(
        "encrypted-platform-unlock: opens and mounts the encrypted-platform volumes at boot.",
        {},
        [COMMON_LIBRARY, VOLUME_LOCK_LIBRARY],
        _read(UNLOCK_HELPER),
        secrets_on_stdin=False,
    )


def render_script(spec: LuksVolumeSpec, body: str, title: str) -> str:
    """A complete bash program: parameters, libraries, then `body` (a program's main)."""
    return render_shell_program(
        f"encrypted-platform {title} for volume {spec.volume!r}.",
        spec.params(),
        [COMMON_LIBRARY, ROOT_FILES_LIBRARY, VOLUME_LOCK_LIBRARY, *(SCRIPTS_DIR / lib for lib in LIBRARIES)],
        body,
        extra=[heredoc_function("ep_unlock_helper_text", unlock_helper_text(), "EP_UNLOCK_HELPER_EOF")],
    )


def render_program(program: str, spec: LuksVolumeSpec) -> str:
    if program not in PROGRAMS:
        raise ValueError(f"unknown LUKS program {program!r}")
    return render_script(spec, _read(f"programs/{program}.sh"), f"luks/{program}")
