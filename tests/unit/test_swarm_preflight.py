"""The Swarm node preflight program: shellcheck-clean as rendered, and its version logic."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from components.settings import parse_settings
from components.swarm import preflight_program

pytestmark = pytest.mark.unit


def settings(version: str = "20.10.24") -> Any:
    return parse_settings(
        {
            "swarm": {
                "enabled": True,
                "manager": "node-a",
                "nodes": {"node-a": {"role": "manager", "engineVersion": version}},
            }
        }
    )


@pytest.mark.needs("shellcheck")
def test_rendered_preflight_is_shellcheck_clean() -> None:
    result = subprocess.run(
        ["shellcheck", "-s", "bash", "-"],
        input=preflight_program(settings(), "node-a"),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("have", "need", "ok"),
    [
        ("20.10.24+dfsg1", "20.10.24", True),
        ("20.10.23", "20.10.24", False),
        ("24.0.7", "20.10.24", True),
        ("20.9.99", "20.10.24", False),
        ("23.0.3", "23.0.4", False),
    ],
)
def test_version_comparison_in_the_shell_program(have: str, need: str, ok: bool) -> None:
    program = preflight_program(settings(), "node-a").replace(
        'sw_main "$@"', f'sw_version_at_least "{have}" "{need}"'
    )
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True)
    assert (result.returncode == 0) is ok, result.stderr
