"""A stand-in `pulumi` executable for the tools that run the Pulumi CLI (scripts/recover_passphrase.py):
it records each argv it is run with and answers as the test says, so a test sees exactly what the
tool asked the CLI for, and when."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path


class StandInPulumi:
    """A `pulumi` executable in its own directory: it appends its argv to calls.jsonl and answers
    with the stdout, stderr and exit code of behaviour.json."""

    def __init__(self, directory: Path, stdout: str) -> None:
        self.directory = directory
        directory.mkdir()
        program = directory / "pulumi"
        program.write_text(
            f"#!{sys.executable}\n"
            + textwrap.dedent(
                """\
                import json, sys
                from pathlib import Path
                here = Path(__file__).parent
                with (here / "calls.jsonl").open("a") as calls:
                    calls.write(json.dumps(sys.argv[1:]) + "\\n")
                behaviour = json.loads((here / "behaviour.json").read_text())
                sys.stderr.write(behaviour["stderr"])
                sys.stdout.write(behaviour["stdout"])
                sys.exit(behaviour["code"])
                """
            )
        )
        program.chmod(0o755)
        self.answer(stdout=stdout)

    def answer(self, *, stdout: str = "", stderr: str = "", code: int = 0) -> None:
        (self.directory / "behaviour.json").write_text(
            json.dumps({"stdout": stdout, "stderr": stderr, "code": code})
        )

    def calls(self) -> list[list[str]]:
        log = self.directory / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
