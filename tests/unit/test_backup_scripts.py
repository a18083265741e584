"""The backup programs' renderer: the parameter block the pack reads, the tool embedded in the
install program verbatim, and no password anywhere in a program."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable

import pytest

from components.at_rest.backup_scripts import (
    HEADER_BACKUP_TAG,
    BackupSpec,
    BackupVolume,
    render_install_program,
    render_tool,
    render_uninstall_program,
)

# The names the design fixes (the pack reads EP_BACKUP_REPOSITORY, EP_BACKUP_VOLUMES and
# EP_BACKUP_PASSWORD_FILE from a backup install's parameter block).
DESIGN_PARAMETERS = {
    "EP_BACKUP_STACK",
    "EP_BACKUP_REPOSITORY",
    "EP_BACKUP_PASSWORD_FILE",
    "EP_BACKUP_VOLUMES",
    "EP_BACKUP_DATA_DIRS",
    "EP_BACKUP_MAPPERS",
    "EP_BACKUP_HEADER_DIR",
    "EP_BACKUP_DAILY_AT",
    "EP_BACKUP_KEEP_DAILY",
    "EP_BACKUP_KEEP_WEEKLY",
    "EP_BACKUP_KEEP_MONTHLY",
    "EP_BACKUP_OTHER_DEVICE",
}


def spec(**changes: object) -> BackupSpec:
    volumes = tuple(
        BackupVolume(
            name, f"/srv/ep/{name}/data", f"/srv/ep/{name}", f"ep-{name}", f"encrypted-platform-{name}"
        )
        for name in ("app-db", "vector-store", "documents")
    )
    values: dict[str, object] = {
        "stack": "prod",
        "repository": "sftp:backup@backup.example.test:/srv/restic/ep",
        "local_other_device": False,
        "password_file": "/srv/ep/config-secrets/binds/backup/repository-password",
        "volumes": volumes,
        "header_backup_dir": "/var/lib/encrypted-platform/header-backups",
        "daily_at": "02:30",
        "keep_daily": 7,
        "keep_weekly": 4,
        "keep_monthly": 12,
    } | changes
    return BackupSpec(**values)  # type: ignore[arg-type]


def parameter_block(program: str) -> dict[str, str]:
    start = program.index("\n{\n") + 3
    end = program.index("\n}\n", start)
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)='([^']*)'$", program[start:end], re.M))


def test_params_carry_the_design_names_in_volume_order() -> None:
    params = spec().params()
    assert set(params) >= DESIGN_PARAMETERS
    assert params["EP_BACKUP_VOLUMES"] == "app-db vector-store documents"
    assert (
        params["EP_BACKUP_DATA_DIRS"]
        == "/srv/ep/app-db/data /srv/ep/vector-store/data /srv/ep/documents/data"
    )
    assert params["EP_BACKUP_MAPPERS"] == "ep-app-db ep-vector-store ep-documents"
    assert params["EP_BACKUP_DOCKER_VOLUMES"].split() == [
        "encrypted-platform-app-db",
        "encrypted-platform-vector-store",
        "encrypted-platform-documents",
    ]
    assert (params["EP_BACKUP_DAILY_HOUR"], params["EP_BACKUP_DAILY_MINUTE"]) == ("02", "30")
    assert params["EP_BACKUP_HEADER_TAG"] == HEADER_BACKUP_TAG
    assert params["EP_BACKUP_OTHER_DEVICE"] == "no"
    assert spec(local_other_device=True).params()["EP_BACKUP_OTHER_DEVICE"] == "yes"
    assert params["EP_BACKUP_TOOL"] == "/usr/local/sbin/encrypted-platform-backup"


@pytest.mark.parametrize("render", [render_install_program, render_uninstall_program, render_tool])
def test_every_program_starts_with_the_whole_parameter_block(render: Callable[[BackupSpec], str]) -> None:
    program = render(spec())
    assert parameter_block(program) == spec().params()
    assert program.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in program


def test_the_install_program_embeds_the_tool_verbatim() -> None:
    program = render_install_program(spec())
    END = "\nEP_BACKUP_TOOL_EOF\n}\n"
    result = subprocess.run(
        ["bash", "-c", program[: program.index(END) + len(END)] + "ep_backup_tool_text"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == render_tool(spec())


def test_no_program_sets_a_password_or_passes_one_in_argv() -> None:
    for render in (render_install_program, render_uninstall_program, render_tool):
        program = render(spec())
        assert "RESTIC_PASSWORD" not in program
        assert "--password-command" not in program
        assert '--password-file "$EP_BACKUP_PASSWORD_FILE"' in program or render is render_uninstall_program
