"""VolumeBackups under the SDK mock runtime, in the whole program (__main__.py) with the dev
stack's config and backups enabled: its children and their parents, what the backup Command
depends on, the repository password only on a secret stdin (never in program text), the outputs
(plain facts, the password as a secret output). Wiring only: tests/host runs the programs."""

from __future__ import annotations

import json
import shlex
from functools import cache
from typing import Any

import pulumi
import pytest
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.sync_await import _sync_await

from components.at_rest.backup_scripts import (
    BackupSpec,
    BackupVolume,
    render_install_program,
    render_uninstall_program,
)
from components.at_rest.backups import PASSWORD_LENGTH
from components.at_rest.luks_scripts import volume_spec
from components.settings import PROJECT, parse_settings
from tests.support.program_runner import (
    ProgramRun,
    is_secret,
    load_stack_config,
    reveal,
    run_main,
    run_program,
)

pytestmark = pytest.mark.unit

COMMAND = "command:local:Command"
PASSWORD = "random:index/randomPassword:RandomPassword"
REPOSITORY = "sftp:backup@backup.example.org:/srv/restic/dev"
BACKUPS = {"enabled": True, "repository": {"kind": "sftp", "url": REPOSITORY}, "dailyAt": "03:15"}


def dev_config(**backups: Any) -> dict[str, Any]:
    config = load_stack_config("dev")
    config["backups"] = {**BACKUPS, **backups}
    return config


@cache
def run_with_exports(volumes: tuple[str, ...] | None = None) -> tuple[ProgramRun, dict[str, Any]]:
    exported: dict[str, Any] = {}

    def program() -> None:
        run_main()
        root = get_root_resource()
        assert root is not None
        exported.update(root.outputs)  # type: ignore[attr-defined]

    config = dev_config(**({"volumes": list(volumes)} if volumes else {}))
    return run_program(program, config=config), exported


def password_value(run: ProgramRun) -> str:
    (password,) = [r for r in run.of_type(PASSWORD) if r.name == "backup-repository-password"]
    value: str = password.outputs["result"]
    return value


def program_text(command_line: str, name: str) -> str:
    """The program of `sudo -n bash -c PROGRAM NAME`."""
    argv = shlex.split(command_line)
    assert argv[:4] == ["sudo", "-n", "bash", "-c"] and argv[5:] == [name], argv[:4] + argv[5:]
    return argv[4]


def expected_spec(config: dict[str, Any], volumes: tuple[str, ...]) -> BackupSpec:
    settings = parse_settings(config)
    specs = {
        name: volume_spec(name, settings.volumes[name], settings.encryption, project=PROJECT, stack="dev")
        for name in (*volumes, "config-secrets")
    }
    return BackupSpec(
        stack="dev",
        repository=REPOSITORY,
        local_other_device=False,
        password_file=f"{specs['config-secrets'].binds_dir}/backup/repository-password",
        volumes=tuple(
            BackupVolume(
                name=name,
                data_dir=specs[name].data_dir,
                mount=specs[name].mount,
                mapper=specs[name].mapper,
                docker_volume=f"encrypted-platform-{name}",
            )
            for name in volumes
        ),
        header_backup_dir="/var/backups/encrypted-platform",
        daily_at="03:15",
        keep_daily=7,
        keep_weekly=4,
        keep_monthly=12,
    )


def test_the_component_and_its_children_hang_under_the_platform() -> None:
    run, _ = run_with_exports()
    urns = run.by_urn()
    component = run.by_name("backups")
    assert component.type == "encrypted-platform:storage:VolumeBackups"
    assert urns[component.parent].name == "platform"
    password = next(r for r in run.of_type(PASSWORD) if r.name == "backup-repository-password")
    secret_file = next(
        r
        for r in run.registrations
        if r.type == "encrypted-platform:storage:SecretFile" and r.name == "backup-repository-password"
    )
    install = run.by_name("backup-install")
    for child in (password, secret_file, install):
        assert child.parent == component.urn, child.name
    assert password.plain("length") == PASSWORD_LENGTH and password.plain("special") is False
    assert password.protect is True


def test_the_password_reaches_the_host_only_on_secret_stdin() -> None:
    run, _ = run_with_exports()
    password = password_value(run)
    carriers = []
    for registration in run.registrations:
        for key, value in registration.inputs.items():
            if password in json.dumps(reveal(value)):
                carriers.append((registration.name, key, is_secret(value)))
    file_command = "backup-repository-password-install"
    assert (file_command, "stdin", True) in carriers
    assert [c for c in carriers if c[0] not in ("backup-repository-password", file_command)] == []
    install = run.by_name("backup-install")
    assert install.inputs.get("stdin") is None
    for key in ("create", "update", "delete"):
        assert password not in install.plain(key)


def test_the_install_command_runs_the_rendered_programs_after_the_volumes_and_the_file() -> None:
    run, _ = run_with_exports()
    install = run.by_name("backup-install")
    assert install.type == COMMAND
    assert install.plain("create") == install.plain("update")
    create = program_text(install.plain("create"), "ep-backup-install")
    assert "EP_BACKUP_REPOSITORY='sftp:backup@backup.example.org:/srv/restic/dev'" in create
    assert "EP_BACKUP_VOLUMES='app-db vector-store documents config-secrets'" in create
    assert "EP_BACKUP_DAILY_AT='03:15'" in create
    assert (
        "EP_BACKUP_PASSWORD_FILE='/srv/encrypted/config-secrets/binds/backup/repository-password'" in create
    )
    program_text(install.plain("delete"), "ep-backup-uninstall")
    names = {r.urn: r.name for r in run.registrations}
    depends = {names[urn] for urn in install.dependencies}
    assert "backup-repository-password-install" in depends  # the SecretFile's Command
    for volume in ("app-db", "vector-store", "documents", "config-secrets"):
        assert f"{volume}-luks" in depends and volume in depends, volume
    assert "logs-luks" not in depends


def test_the_chosen_volumes_only() -> None:
    run, _ = run_with_exports(("documents",))
    create = program_text(run.by_name("backup-install").plain("create"), "ep-backup-install")
    assert "EP_BACKUP_VOLUMES='documents'" in create
    assert "EP_BACKUP_DATA_DIRS='/srv/encrypted/documents/data'" in create


def test_the_programs_are_the_renderers_for_the_settings() -> None:
    run, _ = run_with_exports()
    install = run.by_name("backup-install")
    spec = expected_spec(dev_config(), ("app-db", "vector-store", "documents", "config-secrets"))
    assert program_text(install.plain("create"), "ep-backup-install") == render_install_program(spec)
    assert program_text(install.plain("delete"), "ep-backup-uninstall") == render_uninstall_program(spec)


def test_outputs_say_where_and_escrow_the_password_as_a_secret() -> None:
    run, exported = run_with_exports()
    backups = _sync_await(pulumi.Output.from_input(exported["backups"]).future())
    assert backups == {
        "enabled": True,
        "repository": REPOSITORY,
        "volumes": ["app-db", "vector-store", "documents", "config-secrets"],
        "dailyAt": "03:15",
        "retention": {"keepDaily": 7, "keepWeekly": 4, "keepMonthly": 12},
    }
    escrow = pulumi.Output.from_input(exported["backupRepositoryPassword"])
    assert _sync_await(escrow.is_secret()) is True
    assert _sync_await(escrow.future()) == password_value(run)


def test_without_backups_nothing_is_declared() -> None:
    config = load_stack_config("dev")
    config.pop("backups", None)
    run = run_program(config=config)
    assert not [r for r in run.registrations if r.name.startswith("backup")]
    assert parse_settings(config).backups.enabled is False
