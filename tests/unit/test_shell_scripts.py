"""shellcheck over every shell script in the repository and over every rendered program."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from components.at_rest import secret_file
from components.at_rest.backup_scripts import (
    BackupSpec,
    BackupVolume,
    render_install_program,
    render_tool,
    render_uninstall_program,
)
from components.at_rest.luks_scripts import PROGRAMS, render_program, unlock_helper_text, volume_spec
from components.isolation.firewall import FIREWALL_PROGRAMS, render_firewall
from components.settings import parse_settings
from components.settings.firewall import FirewallSettings
from components.shell import single_quoted
from components.swarm import preflight_program

REPO = Path(__file__).resolve().parents[2]
SHELLCHECK = shutil.which("shellcheck")


def repository_scripts() -> list[Path]:
    tracked = subprocess.run(
        ["git", "ls-files", "*.sh", ".ci/run"], cwd=REPO, capture_output=True, text=True, check=True
    )
    files = {REPO / line for line in tracked.stdout.split()}
    files |= set((REPO / "components" / "scripts").rglob("*.sh"))
    return sorted(p for p in files if p.exists())


@pytest.mark.needs("shellcheck")
def test_shellcheck_is_installed() -> None:
    assert SHELLCHECK, "shellcheck is missing: run scripts/install-test-deps.sh"


@pytest.mark.needs("shellcheck")
@pytest.mark.parametrize("script", repository_scripts(), ids=lambda p: str(p.relative_to(REPO)))
def test_script_is_shellcheck_clean(script: Path) -> None:
    result = subprocess.run(
        [SHELLCHECK or "shellcheck", "-x", "-s", "bash", str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.needs("shellcheck")
@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("backing", ["file", "device"])
def test_rendered_program_is_shellcheck_clean(program: str, backing: str, tmp_path: Path) -> None:
    volume = {"backing": "device", "device": "/dev/disk/by-id/virtio-app-db"} if backing == "device" else {}
    settings = parse_settings({"volumes": {"app-db": volume}})
    spec = volume_spec("app-db", settings.volumes["app-db"], settings.encryption, project="p", stack="s")
    path = tmp_path / f"{program}.sh"
    path.write_text(render_program(program, spec))
    result = subprocess.run([SHELLCHECK or "shellcheck", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


BACKUP_PROGRAMS = {
    "backup/install": render_install_program,
    "backup/uninstall": render_uninstall_program,
    "backup/tool": render_tool,
}


def backup_spec(value: str | None = None) -> BackupSpec:
    """The spec the component builds for two volumes, or with every value `value`."""
    volumes = tuple(
        BackupVolume(
            name=value or name,
            data_dir=f"{value}/data" if value else f"/var/lib/encrypted-platform/mnt/{name}/data",
            mount=value or f"/var/lib/encrypted-platform/mnt/{name}",
            mapper=value or f"ep-{name}",
            docker_volume=value or f"encrypted-platform-{name}",
        )
        for name in ("app-db", "documents")
    )
    return BackupSpec(
        stack=value or "prod",
        repository=value or "sftp:backup@backup.example.test:/srv/restic/ep",
        local_other_device=value is None,
        password_file=value
        or "/var/lib/encrypted-platform/mnt/config-secrets/binds/backup/repository-password",
        volumes=volumes,
        header_backup_dir=value or "/var/lib/encrypted-platform/header-backups",
        daily_at=f"{value}:{value}" if value else "02:30",
        keep_daily=7,
        keep_weekly=4,
        keep_monthly=12,
    )


@pytest.mark.needs("shellcheck")
@pytest.mark.parametrize("program", list(BACKUP_PROGRAMS))
def test_rendered_backup_program_is_shellcheck_clean(program: str, tmp_path: Path) -> None:
    path = tmp_path / f"{program.replace('/', '-')}.sh"
    path.write_text(BACKUP_PROGRAMS[program](backup_spec()))
    result = subprocess.run([SHELLCHECK or "shellcheck", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_scripts_use_strict_mode() -> None:
    for script in repository_scripts():
        text = script.read_text()
        if text.startswith("#!"):
            assert "set -euo pipefail" in text, f"{script} lacks set -euo pipefail"
        else:
            assert text.startswith("# shellcheck shell=bash"), f"{script}: library without shell directive"


# Values the settings refuse, rendered anyway: every program must still parse them as data.
HOSTILE = {
    "single-quote": "/srv/x'$(touch PWNED)'",
    "double-quote": '/srv/x"$(touch PWNED)"',
    "backquote": "/srv/x`touch PWNED`",
    "spaces-tabs": "/srv/a b\tc",
    "newline": "/srv/line\n$(touch PWNED)\n",
    "glob": "/srv/*?[a]",
    "backslash": "/srv/x\\'$(id)\\",
}
PARAMETER = re.compile(r"^([A-Z][A-Z0-9_]*)='", re.M)
SWARM_SETTINGS = {
    "swarm": {
        "enabled": True,
        "manager": "node-a",
        "nodes": {"node-a": {"role": "manager", "engineVersion": "20.10.24"}},
    }
}


def with_hostile_parameters(text: str, value: str) -> str:
    """The same program with every parameter of its block set to `value` (the renderer's own
    quoting: for the firewall and swarm programs the settings types admit no such value)."""
    start = text.index("\n{\n") + 3
    end = text.index("\n}\n", start)
    names = PARAMETER.findall(text[start:end])
    assert names, "no parameter block"
    block = "\n".join(f"{name}={single_quoted(value)}" for name in names)
    return text[:start] + block + text[end:]


def hostile_programs(value: str) -> dict[str, str]:
    settings = parse_settings({})
    luks = replace(
        volume_spec("app-db", settings.volumes["app-db"], settings.encryption, project="p", stack="s"),
        source=value,
        mount=value,
        data_dir=f"{value}/data",
        keys_dir=value,
        header_backup_dir=value,
        label=value,
    )
    files = secret_file.VolumeFileSpec(
        name=value,
        mount=value,
        mapper=value,
        base_dir=f"{value}/binds",
        relative_path="edge-tls/edge.key",
        owner="65532:65532",
        dir_owner="0:0",
        dir_mode="0755",
    )
    programs = {f"luks/{p}": render_program(p, luks) for p in PROGRAMS}
    programs["luks/unlock-at-boot"] = unlock_helper_text()
    programs |= {f"secret_file/{p}": secret_file.render_program(p, files) for p in secret_file.PROGRAMS}
    for program in FIREWALL_PROGRAMS:
        programs[f"firewall/{program}"] = with_hostile_parameters(
            render_firewall(program, FirewallSettings()), value
        )
    swarm = parse_settings(SWARM_SETTINGS)
    programs["swarm/preflight"] = with_hostile_parameters(preflight_program(swarm, "node-a"), value)
    programs |= {name: render(backup_spec(value)) for name, render in BACKUP_PROGRAMS.items()}
    return programs


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_programs_rendered_with_hostile_values_are_shellcheck_clean(value: str, tmp_path: Path) -> None:
    programs = hostile_programs(value)
    assert len(programs) == 13
    paths = []
    for name, text in programs.items():
        path = tmp_path / (name.replace("/", "-") + ".sh")
        path.write_text(text)
        paths.append(str(path))
        syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert syntax.returncode == 0, f"{name}: {syntax.stderr}"
    result = subprocess.run([SHELLCHECK or "shellcheck", *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
