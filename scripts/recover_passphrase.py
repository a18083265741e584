"""`make recover-passphrase STACK=... VOLUME=...`: one volume's current LUKS passphrase, read from
the stack's secret output `volumePassphrases` (the escrow __main__.py exports), for when no program
opens the volume: a manual unlock after a reboot, a header restore
(docs/runbooks/recover-a-passphrase.md).

    python -m scripts.recover_passphrase STACK VOLUME      (asks first, unless YES=1)

VOLUME is checked against Pulumi.<stack>.yaml (through the settings models, as `make show` does)
and the operator confirms by typing it on the terminal before the Pulumi CLI is asked for a secret:
`pulumi stack output --stack STACK --show-secrets --json volumePassphrases`, an argv without a
shell. The passphrase comes back on the CLI's stdout and leaves this process only on its own
stdout: never in an argv, an environment or a log. On a terminal that is the key version and the
passphrase, one per line; into a pipe it is the passphrase's bytes alone, without a newline,
because `cryptsetup --key-file=-` takes every byte of its stdin (a newline too) as the key.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from components.at_rest.luks_scripts import volume_spec
from components.settings import PROJECT, SettingsError, StackSettings, parse_settings
from scripts.show_stack import stack_config

OUTPUT = "volumePassphrases"
USAGE = "usage: python -m scripts.recover_passphrase STACK VOLUME   (make recover-passphrase STACK=... VOLUME=...)"
# The stack names scripts/stack.sh accepts, but never one the CLI would read as a flag: STACK
# reaches its argv.
_STACK = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")
_MISSING_OUTPUT = f"does not have output property '{OUTPUT}'"


class RecoveryError(Exception):
    pass


def pulumi_argv(stack: str) -> list[str]:
    return ["pulumi", "stack", "output", "--stack", stack, "--show-secrets", "--json", OUTPUT]


def run_pulumi(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    # No stdin: the CLI must not stop to ask for anything (a secrets passphrase comes from its
    # environment, as scripts/pulumi-env.sh sets it).
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False)


def ask_on_terminal(question: str) -> str:
    """The answer typed on the controlling terminal: stdout may be a pipe into cryptsetup, and the
    question must not end up in the key."""
    try:
        terminal = open("/dev/tty", "r+")  # noqa: SIM115 - closed below, an OSError means no terminal
    except OSError as error:
        raise EOFError("no terminal") from error
    with terminal:
        terminal.write(question)
        terminal.flush()
        answer = terminal.readline()
    if not answer:
        raise EOFError("no answer")
    return answer


def confirmed(volume: str, stack: str, *, environ: dict[str, str], ask: Callable[[str], str]) -> bool:
    if environ.get("YES") == "1":
        return True
    question = (
        f"This prints the passphrase that opens volume {volume} of stack {stack} (and any copy of its "
        f"LUKS header). Type the volume name ({volume}) to go on: "
    )
    try:
        return ask(question).strip() == volume
    except EOFError:
        return False


def escrowed(
    stack: str, volume: str, run: Callable[[list[str]], subprocess.CompletedProcess[bytes]]
) -> tuple[int, str]:
    """(key version, passphrase) of `volume` from the stack's output."""
    try:
        result = run(pulumi_argv(stack))
    except FileNotFoundError as error:
        raise RecoveryError(
            "no Pulumi CLI on PATH: run make up (dev) or install it (README); `make recover-passphrase` "
            "also finds the one in ~/.pulumi/bin or the engine `make engine` built (scripts/pulumi-env.sh)"
        ) from error
    stderr = result.stderr.decode(errors="replace")
    if result.returncode != 0:
        if _MISSING_OUTPUT in stderr:
            raise RecoveryError(
                f"stack {stack} has no output {OUTPUT}: its last deployment predates the escrow; "
                f"run `pulumi up --stack {stack}` first (it declares no new resource for it)"
            )
        # The CLI's own message (a login, a secrets passphrase, an unknown stack); it holds no
        # secret: the output's value is written on stdout only.
        raise RecoveryError(
            f"`{shlex.join(pulumi_argv(stack))}` failed ({result.returncode}):\n{stderr.rstrip()}"
        )
    try:
        outputs = json.loads(result.stdout)
    except ValueError as error:
        # Never quote stdout: it may hold passphrases.
        raise RecoveryError(f"the output {OUTPUT} of stack {stack} is not JSON") from error
    if not isinstance(outputs, dict):
        raise RecoveryError(f"the output {OUTPUT} of stack {stack} is not an object of volumes")
    entry = outputs.get(volume)
    if entry is None:
        deployed = ", ".join(sorted(str(name) for name in outputs)) or "none"
        raise RecoveryError(
            f"volume {volume} is not in the output {OUTPUT} of stack {stack} (deployed: {deployed}): "
            f"it was added to Pulumi.{stack}.yaml after the last deployment; run `pulumi up --stack {stack}`"
        )
    key_version = entry.get("keyVersion") if isinstance(entry, dict) else None
    passphrase = entry.get("passphrase") if isinstance(entry, dict) else None
    if not isinstance(key_version, int) or not isinstance(passphrase, str) or not passphrase:
        raise RecoveryError(
            f"the output {OUTPUT} of stack {stack} has no keyVersion and passphrase for {volume}"
        )
    return key_version, passphrase


def _host_prefix(settings: StackSettings, volume: str) -> str:
    """How the operator's shell reaches the host that holds `volume`."""
    host = (
        settings.swarm.nodes[settings.swarm.node_of_volume(volume)].host
        if settings.swarm.enabled
        else settings.host
    )
    sudo = "" if host.user == "root" and not host.become else "sudo "
    if host.mode == "local":
        return "sudo " if os.geteuid() != 0 else ""
    return f"ssh -p {host.port} {shlex.quote(f'{host.user}@{host.address}')} {sudo}"


def feeding_note(settings: StackSettings, stack: str, volume: str, key_version: int) -> str:
    spec = volume_spec(volume, settings.volumes[volume], settings.encryption, project=PROJECT, stack=stack)
    prefix = _host_prefix(settings, volume)
    source = shlex.quote(spec.source)
    lines = [
        f"volume {volume} of stack {stack}: the passphrase of key version {key_version}.",
        "Give it to cryptsetup on its stdin, never as an argument. Into a pipe this prints the passphrase",
        "alone, without a newline, as --key-file=- reads it:",
        f"  make recover-passphrase STACK={stack} VOLUME={volume} | {prefix}cryptsetup open --type luks2 "
        f"--key-file=- {source} {spec.mapper}",
        "(--test-passphrase instead of the mapping name only checks it, e.g. after luksHeaderRestore).",
    ]
    wanted = spec.key_version
    if wanted != key_version:
        lines.append(
            f"note: Pulumi.{stack}.yaml asks for key version {wanted}; the last deployment holds "
            f"{key_version}: the volume keeps this passphrase until an update with version {wanted} completes."
        )
    return "\n".join(lines) + "\n"


def main(
    argv: Sequence[str],
    *,
    run: Callable[[list[str]], subprocess.CompletedProcess[bytes]] = run_pulumi,
    environ: dict[str, str] | None = None,
    ask: Callable[[str], str] = ask_on_terminal,
    config_of: Callable[[str], dict[str, Any]] = stack_config,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    if len(argv) != 2 or not argv[1]:
        print(f"error: STACK and VOLUME are required\n{USAGE}", file=err)
        return 2
    stack, volume = argv
    if not _STACK.fullmatch(stack):
        print(f"error: STACK={stack!r} is not a stack name\n{USAGE}", file=err)
        return 2
    try:
        settings = parse_settings(config_of(stack), stack=stack)
    except SettingsError as error:
        print(f"error: Pulumi.{stack}.yaml: {error}", file=err)
        return 1
    if volume not in settings.volumes:
        print(
            f"error: VOLUME {volume!r} is not a volume of stack {stack} "
            f"(volumes: {', '.join(sorted(settings.volumes)) or 'none'})",
            file=err,
        )
        return 2
    if not confirmed(volume, stack, environ=dict(os.environ if environ is None else environ), ask=ask):
        print("not confirmed: nothing printed (YES=1 skips the question)", file=err)
        return 1
    try:
        key_version, passphrase = escrowed(stack, volume, run)
    except RecoveryError as error:
        print(f"error: {error}", file=err)
        return 1
    if out.isatty():
        out.write(f"keyVersion: {key_version}\npassphrase: {passphrase}\n")
    else:
        out.write(passphrase)
    out.flush()
    err.write(feeding_note(settings, stack, volume, key_version))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
