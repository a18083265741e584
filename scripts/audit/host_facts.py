"""The facts program (components/scripts/audit/facts.sh) and what it is told to look at.

The program is a real file run as it is, with no parameter rendered into its text: the volumes
it looks at reach it on stdin as tab-separated records, checked here against the same plain
grammar the program checks again."""

from __future__ import annotations

import json
import re
from typing import Any

from components.shell import SCRIPTS_ROOT

from .model import Expected

FACTS_PROGRAM = SCRIPTS_ROOT / "audit" / "facts.sh"
_PATH = re.compile(r"/[A-Za-z0-9._/@+-]*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class FactsError(Exception):
    """The facts program did not run, or printed no facts."""


def facts_program_text() -> str:
    return FACTS_PROGRAM.read_text()


def _checked(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a plain path or name the facts program accepts")
    return value


def facts_input(expected: Expected) -> str:
    """The facts program's stdin: the directories, then one record per volume."""
    lines = [
        "\t".join(
            [
                "dirs",
                _checked(expected.keys_dir, _PATH, "encryption.keysDir"),
                _checked(expected.header_backup_dir, _PATH, "encryption.headerBackupDir"),
            ]
        )
    ]
    for volume in expected.volumes:
        lines.append(
            "\t".join(
                [
                    "volume",
                    _checked(volume.name, _NAME, "volume"),
                    _checked(volume.source, _PATH, f"volumes.{volume.name} source"),
                    _checked(volume.mapper, _NAME, f"volumes.{volume.name} mapper"),
                    _checked(volume.mount_point, _PATH, f"volumes.{volume.name} mount point"),
                    _checked(volume.docker_volume, _NAME, f"volumes.{volume.name} Docker volume"),
                ]
            )
        )
    return "\n".join(lines) + "\n"


def parse_facts(stdout: bytes) -> dict[str, Any]:
    try:
        document = json.loads(stdout.decode(errors="replace"))
    except ValueError as error:
        raise FactsError(f"the facts program printed no JSON document ({error})") from error
    if not isinstance(document, dict) or document.get("schema") != 1:
        raise FactsError("the facts program printed a document of an unknown schema")
    return document
