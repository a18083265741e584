"""python -m scripts.audit (`make audit STACK=...`): exit codes (0 pass, 1 a control failed, 2
usage, settings or host errors), errors naming the setting as `pulumi config set --path` spells
it, the reports written, and the facts program handed to the runner with its records on stdin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.settings import StackSettings
from scripts.audit import Runner
from scripts.audit.__main__ import edge_address, main
from scripts.audit.expected import expected_facts
from scripts.audit.host_facts import FACTS_PROGRAM, FactsError
from tests.support import audit_facts as af
from tests.support.pinned_stack import pinned_stack_config

pytestmark = pytest.mark.unit


def config(stack: str) -> dict[str, Any]:
    return pinned_stack_config("prod")


class Host:
    """A runner that answers with the facts of the stack deployed as declared (or broken)."""

    def __init__(self, breaks: Any = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.breaks = breaks

    def runner_of(self, settings: StackSettings, stack: str) -> Runner:
        def run(program: str, stdin: str) -> bytes:
            self.calls.append((program, stdin))
            facts = af.host_facts(expected_facts(settings, stack))
            if self.breaks:
                self.breaks(facts)
            return json.dumps(facts).encode()

        return run


def test_a_stack_deployed_as_declared_exits_0_and_writes_both_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = Host()
    code = main(
        ["prod", "--no-edge", "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html")],
        config_of=config,
        runner_of=host.runner_of,
    )
    assert code == 0, capsys.readouterr().out
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["stack"] == "prod" and document["summary"]["fail"] == 0
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    program, stdin = host.calls[0]
    assert program == FACTS_PROGRAM.read_text()
    assert stdin.startswith("dirs\t") and "\nvolume\tapp-db\t" in stdin


def test_a_failed_control_exits_1_and_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    def weaker_cipher(facts: dict[str, Any]) -> None:
        facts["volumes"][0]["luksMetadata"]["segments"]["0"]["encryption"] = "aes-cbc-plain"

    assert main(["prod", "--no-edge"], config_of=config, runner_of=Host(weaker_cipher).runner_of) == 1
    assert "FAIL at-rest.cipher[" in capsys.readouterr().out


def test_a_host_that_cannot_be_asked_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    def unreachable(settings: StackSettings, stack: str) -> Runner:
        def run(program: str, stdin: str) -> bytes:
            raise FactsError("the facts program failed on the host (exit 255): ssh: connect to host refused")

        return run

    assert main(["prod", "--no-edge"], config_of=config, runner_of=unreachable) == 2
    assert "ssh: connect to host refused" in capsys.readouterr().err


def test_bad_settings_exit_2_naming_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    def bad(stack: str) -> dict[str, Any]:
        settings = pinned_stack_config("prod")
        settings["encryption"] = {**(settings.get("encryption") or {}), "unlockAtBoot": "usb-stick"}
        return settings

    assert main(["prod", "--no-edge"], config_of=bad, runner_of=Host().runner_of) == 2
    assert "encrypted-platform:encryption.unlockAtBoot" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [[], ["prod", "--edge", "nohost"], ["prod", "--edge", "h:99999"], ["prod", "--bogus"]]
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv, config_of=config, runner_of=Host().runner_of) == 2
    assert "usage:" in capsys.readouterr().err


def test_a_bad_outputs_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "o.json").write_text('{"volumes": {"app-db": {}}}')
    assert (
        main(
            ["prod", "--no-edge", "--outputs", str(tmp_path / "o.json")],
            config_of=config,
            runner_of=Host().runner_of,
        )
        == 2
    )
    assert "the outputs have no volumes.app-db" in capsys.readouterr().err


def test_edge_addresses() -> None:
    assert edge_address("127.0.0.1:8443") == ("127.0.0.1", 8443)
    assert edge_address("edge.example.org:443:80") == ("edge.example.org", 443, 80)


def test_an_unknown_stack_exits_2_naming_the_stacks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nosuch", "--no-edge"], runner_of=Host().runner_of) == 2
    assert "Pulumi.nosuch.yaml does not exist (stacks: " in capsys.readouterr().err


def test_a_report_that_cannot_be_written_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-directory" / "r.json"
    assert (
        main(["prod", "--no-edge", "--json", str(target)], config_of=config, runner_of=Host().runner_of) == 2
    )
    assert "cannot write the report" in capsys.readouterr().err
