"""scripts/backups.py (`make backup-now|restore|backup-drill|backup-snapshots`): the argv it runs
on the stack's host, built from the stack's settings, without running anything (the host and vm
tiers run the tool itself)."""

from __future__ import annotations

from typing import Any

import pytest

from components.host import ssh_material_dir
from components.settings import PROJECT, parse_settings
from scripts import backups
from tests.support.bad_settings import GOOD_HOST_KEY
from tests.support.pinned_stack import pinned_stack_config

pytestmark = pytest.mark.unit

TOOL = "/usr/local/sbin/encrypted-platform-backup"
SFTP = {"kind": "sftp", "url": "sftp:backup@backup.example.org:/srv/restic/ep"}


def settings(host: dict[str, Any] | None = None, **backup: Any) -> Any:
    config: dict[str, Any] = {"backups": {"enabled": True, "repository": SFTP, **backup}}
    if host is not None:
        config["host"] = host
    return parse_settings(config)


def test_local_host_runs_the_tool_through_sudo_unless_root() -> None:
    local = settings()
    assert backups.host_argv(local, "dev", ["backup"], euid=1000) == ["sudo", "-n", TOOL, "backup"]
    assert backups.host_argv(local, "dev", ["backup"], euid=0) == [TOOL, "backup"]


def test_ssh_host_uses_the_deploy_key_and_pinned_host_key() -> None:
    host = {
        "mode": "ssh",
        "address": "203.0.113.10",
        "port": 2222,
        "user": "deploy",
        "hostKey": GOOD_HOST_KEY,
    }
    argv = backups.host_argv(settings(host), "prod", ["restore", "app-db", "latest"])
    material = ssh_material_dir(PROJECT, "prod")
    assert argv == [
        "ssh",
        "-i",
        str(material / "id"),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={material / 'known_hosts'}",
        "-o",
        "BatchMode=yes",
        "-p",
        "2222",
        "deploy@203.0.113.10",
        "--",
        f"sudo -n {TOOL} restore app-db latest",
    ]


def test_ssh_as_root_without_become_runs_the_tool_itself() -> None:
    host = {"mode": "ssh", "address": "192.0.2.7", "user": "root", "hostKey": GOOD_HOST_KEY}
    argv = backups.host_argv(settings(host), "prod", ["snapshots"])
    assert argv[-3:] == ["root@192.0.2.7", "--", f"{TOOL} snapshots"]
    assert argv[argv.index("-p") + 1] == "22"


@pytest.mark.parametrize(
    ("action", "extra", "expected"),
    [
        ("now", [], ["backup"]),
        ("snapshots", [], ["snapshots"]),
        ("snapshots", ["app-db"], ["snapshots", "app-db"]),
        ("drill", [], ["drill"]),
        ("drill", ["documents"], ["drill", "documents"]),
        ("restore", ["app-db", "latest"], ["restore", "app-db", "latest"]),
        ("restore", ["app-db", "4f2a9c1e"], ["restore", "app-db", "4f2a9c1e"]),
    ],
)
def test_tool_arguments(action: str, extra: list[str], expected: list[str]) -> None:
    assert backups.tool_arguments(action, settings(), extra) == expected


@pytest.mark.parametrize(
    ("action", "extra", "fragment"),
    [
        ("restore", ["app-db"], "needs VOLUME and SNAPSHOT"),
        ("restore", ["logs", "latest"], "not backed up"),
        ("restore", ["app-db", "latest; reboot"], "snapshot id"),
        ("restore", ["app-db", "$(id)"], "snapshot id"),
        ("drill", ["nope"], "not backed up"),
        ("drill", ["app-db", "documents"], "at most one"),
        ("now", ["app-db"], "takes no"),
        ("snapshots", ["logs"], "not backed up"),
        ("prune", [], "unknown action"),
    ],
)
def test_bad_arguments_are_refused(action: str, extra: list[str], fragment: str) -> None:
    with pytest.raises(backups.UsageError, match=".*") as caught:
        backups.tool_arguments(action, settings(), extra)
    assert fragment in str(caught.value)


def runner() -> tuple[list[list[str]], Any]:
    calls: list[list[str]] = []

    def run(argv: list[str]) -> int:
        calls.append(argv)
        return 0

    return calls, run


def test_restore_asks_first_and_does_nothing_without_yes() -> None:
    calls, run = runner()
    assert (
        backups.main(
            ["restore", "prod", "app-db", "latest"],
            run=run,
            environ={},
            ask=lambda _: "no",
            config_of=pinned_stack_config,
        )
        == 1
    )
    assert calls == []
    asked: list[str] = []
    answer = backups.main(
        ["restore", "prod", "app-db", "latest"],
        run=run,
        environ={},
        ask=lambda q: asked.append(q) or "yes",
        config_of=pinned_stack_config,
    )
    assert answer == 0 and "volume app-db on stack prod" in asked[0]
    assert calls[-1][-1].endswith(f"{TOOL} restore app-db latest")


def test_yes_1_skips_the_question() -> None:
    calls, run = runner()

    def never(_: str) -> str:
        raise AssertionError("asked")

    assert (
        backups.main(
            ["restore", "prod", "documents", "latest"],
            run=run,
            environ={"YES": "1"},
            ask=never,
            config_of=pinned_stack_config,
        )
        == 0
    )
    assert calls[0][-1].endswith(f"{TOOL} restore documents latest")


def test_a_stack_without_backups_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    calls, run = runner()
    assert backups.main(["now", "dev"], run=run, environ={}) == 1
    assert calls == [] and "has no backups" in capsys.readouterr().err


def test_prod_backs_up_through_its_ssh_host() -> None:
    calls, run = runner()
    assert backups.main(["now", "prod"], run=run, environ={}, config_of=pinned_stack_config) == 0
    prod = parse_settings(pinned_stack_config("prod"))
    assert calls == [backups.host_argv(prod, "prod", ["backup"])]
    assert calls[0][calls[0].index("--") - 1] == f"{prod.host.user}@{prod.host.address}"
