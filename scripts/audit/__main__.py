"""python -m scripts.audit STACK [--json FILE] [--html FILE] [--edge HOST:PORT[:HTTP_PORT] | --no-edge]
[--outputs FILE] [--ca-file FILE] [--server-name NAME]

Exit code: 0 when no control failed (warnings allowed), 1 when one failed, 2 on a usage error,
bad settings or a host that cannot be asked."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from components.settings import SettingsError, StackSettings, parse_settings
from scripts.show_stack import stack_config

from . import Runner, host_runner, run_audit
from .expected import OutputsError, expected_facts, read_outputs
from .host_facts import FactsError
from .report import render_html, render_json


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors exit 2 through main, not SystemExit
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m scripts.audit", description="Read-only audit of a deployed stack.")
    parser.add_argument("stack")
    parser.add_argument("--json", type=Path, help="write the JSON report here")
    parser.add_argument("--html", type=Path, help="write the HTML report here")
    edge = parser.add_mutually_exclusive_group()
    edge.add_argument(
        "--edge", help="HOST:PORT[:HTTP_PORT] of the edge (default: the stack's host and ports)"
    )
    edge.add_argument("--no-edge", action="store_true", help="do not scan the edge")
    parser.add_argument("--outputs", type=Path, help="`pulumi stack output --json` of the deployment")
    parser.add_argument("--ca-file", help="CA certificate to verify the edge's chain (the dev CA)")
    parser.add_argument(
        "--server-name", help="SNI for the protocol and suite scan (default: the first route host)"
    )
    return parser


def edge_address(value: str) -> tuple[str, int] | tuple[str, int, int]:
    host, sep, rest = value.rpartition(":") if value.count(":") == 1 else value.partition(":")
    ports = rest.split(":") if sep else []
    if not host or not ports or not all(p.isdigit() and 0 < int(p) < 65536 for p in ports) or len(ports) > 2:
        raise UsageError(f"--edge must be HOST:PORT or HOST:PORT:HTTP_PORT, got {value!r}")
    if len(ports) == 2:
        return host, int(ports[0]), int(ports[1])
    return host, int(ports[0])


def default_edge(settings: StackSettings) -> tuple[str, int]:
    host = settings.host
    address = "127.0.0.1" if host.mode == "local" or host.address is None else host.address
    return (address, settings.edge.ports.https)


def main(
    argv: Sequence[str],
    *,
    config_of: Callable[[str], dict[str, Any]] = stack_config,
    runner_of: Callable[[StackSettings, str], Runner] = host_runner,
) -> int:
    try:
        args = _parser().parse_args(list(argv))
        edge = edge_address(args.edge) if args.edge else None
    except UsageError as error:
        print(f"error: {error}\n{_parser().format_usage()}", file=sys.stderr, end="")
        return 2
    stack = args.stack
    try:
        config = config_of(stack)
    except SystemExit as error:  # show_stack names the stacks there are
        print(error, file=sys.stderr)
        return 2
    try:
        settings = parse_settings(config, stack=stack)
    except SettingsError as error:
        print(f"error: Pulumi.{stack}.yaml: {error}", file=sys.stderr)
        return 2
    try:
        outputs = read_outputs(args.outputs) if args.outputs else None
        expected = expected_facts(settings, stack, outputs)
    except (OutputsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if edge is None and not args.no_edge and expected.edge is not None:
        edge = default_edge(settings)
    try:
        report = run_audit(
            expected,
            runner_of(settings, stack),
            edge=None if args.no_edge else edge,
            ca_file=args.ca_file,
            server_name=args.server_name,
        )
    except (FactsError, ValueError) as error:
        print(f"error: stack {stack}: {error}", file=sys.stderr)
        return 2
    try:
        if args.json:
            args.json.write_text(render_json(report))
        if args.html:
            args.html.write_text(render_html(report))
    except OSError as error:
        print(f"error: cannot write the report: {error}", file=sys.stderr)
        return 2
    for control in report.controls:
        if control.status != "pass":
            print(f"{control.status.upper():4} {control.id}: {control.summary}")
    counts = report.counts()
    print(f"stack {stack}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return report.exit_code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
