"""Run the project's LUKS programs the way the EncryptedVolume component does.

A spec comes from the real settings models and renderer; only the paths are moved under a test
directory (and the KDF made cheap, which is a setting, not a test-only code path). `run_local`
runs a program on this machine (header-only operations work here; `cryptsetup open` needs the
VM); the vm tier pipes the same text over SSH.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from components.at_rest.luks_scripts import LuksVolumeSpec, render_program, render_script, volume_spec
from components.settings import parse_settings
from components.shell import invocation

FAST_KDF: dict[str, Any] = {"pbkdf": "argon2id", "memoryKib": 32768, "iterations": 4, "parallel": 1}
STACK = "luks-lab"


def make_spec(
    name: str = "app-db",
    *,
    root: Path | str,
    volume: dict[str, Any] | None = None,
    encryption: dict[str, Any] | None = None,
    stack: str = STACK,
) -> LuksVolumeSpec:
    """A spec whose every host path lives under `root` (a temp dir on the host or in the VM)."""
    root = str(root)
    enc = {
        "root": f"{root}/srv/encrypted",
        "stateDir": f"{root}/var/lib/encrypted-platform",
        "keysDir": f"{root}/etc/encrypted-platform/keys",
        "headerBackupDir": f"{root}/var/backups/encrypted-platform",
        "kdf": FAST_KDF,
    }
    enc.update(encryption or {})
    settings = parse_settings({"encryption": enc, "volumes": {name: volume or {"size": "64MiB"}}})
    return volume_spec(
        name, settings.volumes[name], settings.encryption, project="encrypted-platform", stack=stack
    )


def loop_volume(loop: str, **extra: Any) -> dict[str, Any]:
    """Volume settings for a loop device the test attached (not a stable name: the reason says why)."""
    return {
        "backing": "device",
        "device": loop,
        "unstableDeviceReason": "a loop device attached by this test for its own lifetime",
        **extra,
    }


def with_source(spec: LuksVolumeSpec, source: Path | str) -> LuksVolumeSpec:
    return replace(spec, source=str(source))


def steps(spec: LuksVolumeSpec, body: str) -> str:
    """A program made of the same libraries with a custom main: used to stop between steps
    (an interrupted run) or to call one step on its own."""
    return render_script(spec, body, "luks/test-steps")


def command_line(program_text: str, name: str = "ep-luks-test") -> str:
    """Exactly what the component puts in a Command's create/update/delete."""
    return invocation(program_text, name)


def run_local(
    program_text: str,
    stdin: str = "",
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`env` adds variables (e.g. a PATH with a stand-in tool first); the programs read none."""
    return subprocess.run(
        ["/bin/sh", "-c", command_line(program_text)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env} if env else None,
    )


def run_isolated(
    program_text: str,
    work: Path,
    stdin: str = "",
    *,
    setup: str = "",
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Runs a program as the Command would, in a private mount namespace whose /etc is an
    overlay (crypttab and fstab edits stay there) and whose working directory is `work`.
    `setup` runs first in the namespace (e.g. a tmpfs standing in for a mounted volume)."""
    upper, scratch = work / ".etc-upper", work / ".etc-work"
    upper.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    runner = (
        "set -e\n"
        f"mount -t overlay overlay -o lowerdir=/etc,upperdir={shlex.quote(str(upper))},"
        f"workdir={shlex.quote(str(scratch))} /etc\n"
        f"{setup}\n"
        f"cd {shlex.quote(str(work))}\n"
        'exec bash -c "$1" ep-isolated-test\n'
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", runner, "runner", program_text],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env} if env else None,
    )


def ensure(spec: LuksVolumeSpec) -> str:
    return render_program("ensure", spec)


def delete(spec: LuksVolumeSpec) -> str:
    return render_program("delete", spec)


def reencrypt(spec: LuksVolumeSpec) -> str:
    return render_program("reencrypt", spec)


def key_opens(source: Path | str, key: str) -> bool:
    """cryptsetup's own answer: exit 0 opens; 2 means no key slot accepts this passphrase; an
    erased header has no usable key slot at all."""
    result = subprocess.run(
        ["cryptsetup", "open", "--test-passphrase", "--key-file=-", str(source)],
        input=key.encode(),
        capture_output=True,
    )
    if result.returncode == 0:
        return True
    if result.returncode == 2 or b"No usable keyslot" in result.stderr:
        return False
    raise RuntimeError(result.stderr.decode())


def luks_dump(source: Path | str) -> str:
    return subprocess.run(
        ["cryptsetup", "luksDump", str(source)], capture_output=True, text=True, check=True
    ).stdout
