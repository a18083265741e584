"""scripts/recover_passphrase.py (`make recover-passphrase`): VOLUME checked against the stack's
settings and confirmed before the Pulumi CLI is asked for a secret, the exact argv it runs, what
reaches stdout (the passphrase alone into a pipe, key version and passphrase on a terminal) and
stderr (how to feed it to cryptsetup, never the passphrase), and the clear failures: no CLI, an
older deployment without the output, a volume missing from it. The CLI is a stand-in `pulumi` on
PATH (tests/support/pulumi_standin.py) that records its argv and prints the JSON the test gives
it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts import recover_passphrase
from tests.support.pinned_stack import pinned_stack_config
from tests.support.program_runner import REPO
from tests.support.pulumi_standin import StandInPulumi

pytestmark = pytest.mark.unit

PASSPHRASE = "x7Qm2LkP9vTzR4wY8sNdC3hJ6bF1gA5eU0oIiKrEtWyXnMqZaSdFgHjKlPoIuYtR"
ESCROW = {
    "app-db": {"keyVersion": 1, "passphrase": PASSPHRASE},
    "documents": {"keyVersion": 1, "passphrase": "documents-passphrase-not-asked-for"},
}
ARGV = ["stack", "output", "--stack", "prod", "--show-secrets", "--json", "volumePassphrases"]


@pytest.fixture
def pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StandInPulumi:
    stand_in = StandInPulumi(tmp_path / "bin", json.dumps(ESCROW))
    monkeypatch.setenv("PATH", f"{stand_in.directory}{os.pathsep}{os.environ['PATH']}")
    return stand_in


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def recover(
    argv: list[str],
    *,
    ask: Any = None,
    environ: dict[str, str] | None = None,
    stdout: io.StringIO | None = None,
) -> tuple[int, str, str]:
    out, err = stdout if stdout is not None else io.StringIO(), io.StringIO()

    def never(question: str) -> str:
        raise AssertionError(f"asked: {question}")

    code = recover_passphrase.main(
        argv,
        environ={} if environ is None else environ,
        ask=ask or never,
        config_of=pinned_stack_config,
        stdout=out,
        stderr=err,
    )
    return code, out.getvalue(), err.getvalue()


def test_confirmed_it_asks_the_cli_once_and_prints_the_passphrase_alone_into_a_pipe(
    pulumi: StandInPulumi,
) -> None:
    questions: list[str] = []

    def ask(question: str) -> str:
        # The secret is asked for only once the operator confirmed.
        assert pulumi.calls() == []
        questions.append(question)
        return "app-db\n"

    code, out, err = recover(["prod", "app-db"], ask=ask)
    assert code == 0, err
    assert pulumi.calls() == [ARGV]
    assert "volume app-db of stack prod" in questions[0] and "Type the volume name (app-db)" in questions[0]
    # What `cryptsetup --key-file=-` takes as the key: every byte, so no newline.
    assert out == PASSPHRASE
    assert PASSPHRASE not in err
    assert "key version 1" in err
    assert (
        "make recover-passphrase STACK=prod VOLUME=app-db | ssh -p 22 deploy@203.0.113.10 sudo cryptsetup "
        "open --type luks2 --key-file=- /dev/disk/by-id/virtio-app-db ep-app-db"
    ) in err


def test_on_a_terminal_it_prints_the_key_version_and_the_passphrase(pulumi: StandInPulumi) -> None:
    code, out, _ = recover(["prod", "app-db"], environ={"YES": "1"}, stdout=Terminal())
    assert code == 0
    assert out == f"keyVersion: 1\npassphrase: {PASSPHRASE}\n"


def test_an_unknown_volume_is_refused_before_the_cli_runs(pulumi: StandInPulumi) -> None:
    code, out, err = recover(["prod", "app-dbx"], environ={"YES": "1"})
    assert code == 2 and out == ""
    assert "VOLUME 'app-dbx' is not a volume of stack prod" in err
    assert "app-db, config-secrets, documents, logs, vector-store" in err
    assert pulumi.calls() == []


@pytest.mark.parametrize("argv", [["prod"], ["prod", ""], ["prod", "app-db", "extra"], []])
def test_stack_and_volume_are_required(pulumi: StandInPulumi, argv: list[str]) -> None:
    code, out, err = recover(argv, environ={"YES": "1"})
    assert code == 2 and out == "" and "STACK and VOLUME are required" in err
    assert pulumi.calls() == []


@pytest.mark.parametrize("stack", ["--show-secrets", "-s", "$(id)", "prod dev"])
def test_a_stack_name_that_is_no_stack_name_is_refused(pulumi: StandInPulumi, stack: str) -> None:
    code, _, err = recover([stack, "app-db"], environ={"YES": "1"})
    assert code == 2 and "is not a stack name" in err
    assert pulumi.calls() == []


@pytest.mark.parametrize("answer", ["yes", "documents", "", "app-db-x"])
def test_a_refused_confirmation_prints_nothing_and_asks_the_cli_nothing(
    pulumi: StandInPulumi, answer: str
) -> None:
    code, out, err = recover(["prod", "app-db"], ask=lambda _: answer)
    assert code == 1 and out == ""
    assert "not confirmed: nothing printed" in err
    assert pulumi.calls() == []


def test_no_answer_at_all_is_a_refusal(pulumi: StandInPulumi) -> None:
    def no_terminal(_: str) -> str:
        raise EOFError

    code, out, _ = recover(["prod", "app-db"], ask=no_terminal)
    assert code == 1 and out == "" and pulumi.calls() == []


def test_without_a_cli_it_says_where_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = recover(["prod", "app-db"], environ={"YES": "1"})
    assert code == 1 and out == ""
    assert "no Pulumi CLI on PATH" in err


def test_an_older_deployment_without_the_output_says_to_run_pulumi_up(pulumi: StandInPulumi) -> None:
    pulumi.answer(stderr="error: current stack does not have output property 'volumePassphrases'\n", code=255)
    code, out, err = recover(["prod", "app-db"], environ={"YES": "1"})
    assert code == 1 and out == ""
    assert "stack prod has no output volumePassphrases" in err
    assert "run `pulumi up --stack prod` first" in err


def test_a_volume_the_deployment_does_not_have_yet(pulumi: StandInPulumi) -> None:
    pulumi.answer(stdout=json.dumps({"documents": ESCROW["documents"]}))
    code, out, err = recover(["prod", "app-db"], environ={"YES": "1"})
    assert code == 1 and out == ""
    assert "volume app-db is not in the output volumePassphrases of stack prod (deployed: documents)" in err
    assert "pulumi up --stack prod" in err


def test_any_other_cli_failure_is_relayed(pulumi: StandInPulumi) -> None:
    pulumi.answer(stderr="error: no stack named 'prod' found\n", code=255)
    code, out, err = recover(["prod", "app-db"], environ={"YES": "1"})
    assert code == 1 and out == ""
    assert "pulumi stack output --stack prod --show-secrets --json volumePassphrases` failed (255)" in err
    assert "error: no stack named 'prod' found" in err


@pytest.mark.parametrize(
    "stdout",
    [
        f"Enter your passphrase: {PASSPHRASE}",
        json.dumps([PASSPHRASE]),
        json.dumps({"app-db": {"passphrase": PASSPHRASE}}),
        json.dumps({"app-db": {"keyVersion": 1, "passphrase": ""}}),
    ],
)
def test_an_unexpected_answer_fails_without_quoting_it(pulumi: StandInPulumi, stdout: str) -> None:
    pulumi.answer(stdout=stdout)
    code, out, err = recover(["prod", "app-db"], environ={"YES": "1"})
    assert code == 1 and out == ""
    assert "error: the output volumePassphrases of stack prod" in err
    assert PASSPHRASE not in err


def test_a_key_version_not_deployed_yet_is_named(pulumi: StandInPulumi) -> None:
    config = pinned_stack_config("prod")
    config["encryption"] = {**config.get("encryption", {}), "keyVersion": 2}
    err = io.StringIO()
    code = recover_passphrase.main(
        ["prod", "app-db"], environ={"YES": "1"}, config_of=lambda _: config, stdout=io.StringIO(), stderr=err
    )
    assert code == 0
    assert "key version 1." in err.getvalue()
    assert "Pulumi.prod.yaml asks for key version 2; the last deployment holds 1" in err.getvalue()


def run_module(pulumi: StandInPulumi, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    # A session of its own: no controlling terminal, as under a CI runner.
    return subprocess.run(
        [sys.executable, "-m", "scripts.recover_passphrase", "dev", "app-db"],
        cwd=REPO,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        start_new_session=True,
        check=False,
    )


def test_the_module_writes_exactly_the_passphrase_into_a_pipe(pulumi: StandInPulumi) -> None:
    result = run_module(pulumi, {"YES": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == PASSPHRASE.encode()
    assert pulumi.calls() == [[*ARGV[:3], "dev", *ARGV[4:]]]
    assert PASSPHRASE.encode() not in result.stderr


def test_the_module_without_a_terminal_to_ask_on_prints_nothing(pulumi: StandInPulumi) -> None:
    result = run_module(pulumi, {"YES": ""})
    assert result.returncode == 1
    assert result.stdout == b""
    assert b"not confirmed: nothing printed" in result.stderr
    assert pulumi.calls() == []
