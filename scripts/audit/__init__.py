"""`make audit STACK=...`: evidence of what a deployed stack really enforces, read-only.

The host side runs components/scripts/audit/facts.sh as root on the stack's host (reached as the
program reaches it: scripts/host_access.py) and judges its JSON against what the settings and the
outputs say (expected.py); the edge is scanned from outside (edge_scan.py). Pure checks, one
module per concern (at_rest, in_transit, isolation, drift), turn facts into controls; report.py
writes JSON and HTML. In-process use (a test on a VM):

    from scripts.audit import run_audit, argv_runner
    from scripts.audit.expected import expected_facts
    report = run_audit(expected_facts(settings, stack), argv_runner(["sudo", "-n"]),
                       edge=("127.0.0.1", 443), ca_file="dev-ca.pem")
    report.exit_code, report.by_id()["at-rest.cipher[app-db]"].status
"""

from __future__ import annotations

import datetime as dt
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from components.settings import StackSettings
from scripts.host_access import host_argv

from . import at_rest, drift, in_transit, isolation
from .edge_scan import EdgeTarget, scan_edge
from .host_facts import FactsError, facts_input, facts_program_text, parse_facts
from .model import Control, Expected
from .report import Report

# Runs the facts program (its text) as root on the host with `stdin`, returns its stdout; raises
# FactsError when it cannot.
Runner = Callable[[str, str], bytes]
PROGRAM_NAME = "encrypted-platform-audit-facts"

__all__ = ["Report", "Runner", "argv_runner", "host_runner", "judge", "run_audit", "ssh_runner"]


def _run(argv: Sequence[str], stdin: str) -> bytes:
    try:
        result = subprocess.run(
            list(argv), input=stdin.encode(), capture_output=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise FactsError(f"could not run the facts program: {error}") from error
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace").strip()[-2000:]
        raise FactsError(f"the facts program failed on the host (exit {result.returncode}): {stderr}")
    return result.stdout


def argv_runner(prefix: Sequence[str] = ()) -> Runner:
    """Runs the program locally after `prefix` (e.g. ["sudo", "-n"], or [] as root)."""
    return lambda program, stdin: _run([*prefix, "bash", "-c", program, PROGRAM_NAME], stdin)


def ssh_runner(ssh_argv: Sequence[str], *, sudo: bool = True) -> Runner:
    """Runs the program through `ssh_argv` (ssh and its options up to the destination and `--`),
    the remote command quoted as one word list."""

    def run(program: str, stdin: str) -> bytes:
        remote = shlex.join([*(["sudo", "-n"] if sudo else []), "bash", "-c", program, PROGRAM_NAME])
        return _run([*ssh_argv, remote], stdin)

    return run


def host_runner(settings: StackSettings, stack: str) -> Runner:
    """The stack's host, reached the way the program reaches it."""
    return lambda program, stdin: _run(
        host_argv(settings, stack, ["bash", "-c", program, PROGRAM_NAME]), stdin
    )


def judge(
    expected: Expected, host_facts: Mapping[str, Any], edge_facts: Mapping[str, Any] | None
) -> list[Control]:
    """Every control, from the gathered facts (pure)."""
    return [
        *at_rest.check(expected, host_facts),
        *in_transit.check(expected, edge_facts),
        *isolation.check(expected, host_facts),
        *drift.check(expected, host_facts),
    ]


def run_audit(
    expected: Expected,
    runner: Runner,
    *,
    edge: tuple[str, int] | tuple[str, int, int] | None = None,
    ca_file: str | None = None,
    server_name: str | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """Gathers the host's facts through `runner` and (with `edge`: address, HTTPS port and
    optionally the HTTP port, else the stack's) the edge's, and judges them. Raises FactsError
    when the host cannot be asked."""
    host_facts = parse_facts(runner(facts_program_text(), facts_input(expected)))
    edge_facts = None
    if edge is not None and expected.edge is not None:
        http_port = edge[2] if len(edge) == 3 else expected.edge.http_port
        target = EdgeTarget(edge[0], edge[1], http_port, ca_file=ca_file, server_name=server_name)
        edge_facts = scan_edge(target, expected.edge)
    generated = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    host = host_facts.get("host")
    return Report(
        expected.stack,
        generated,
        None if host is None else str(host),
        tuple(judge(expected, host_facts, edge_facts)),
    )
