"""The command provider's executor: programs run for real in the Docker host's network namespace,
except EncryptedVolume's LUKS programs (LuksDataDirStandIn) and SecretFile's storage check."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import uuid
from pathlib import Path
from typing import Any

from .executor import Context, Executor, Recorded, Request
from .inputs import HONOURED, UnhonouredInput

_LUKS_NAME = re.compile(r"^ep-luks-(ensure|reencrypt|delete)-[a-z0-9-]+$")


def luks_program(text: str) -> tuple[str, str] | None:
    """(kind, program) when `text` is an EncryptedVolume LUKS invocation
    ('[sudo -n ]bash -c <program> ep-luks-<kind>-<volume>'), else None."""
    if "ep-luks-" not in text:
        return None
    argv = shlex.split(text)
    if argv[:2] == ["sudo", "-n"]:
        argv = argv[2:]
    if len(argv) == 4 and argv[:2] == ["bash", "-c"]:
        match = _LUKS_NAME.match(argv[3])
        if match:
            return match.group(1), argv[2]
    return None


def _luks_parameter(program: str, name: str) -> str:
    """The value of a parameter line NAME='value' of the program's parameter block."""
    for line in program.splitlines():
        if line.startswith(f"{name}="):
            return shlex.split(line[len(name) + 1 :])[0]
    raise UnhonouredInput(f"LUKS program without {name}")


class CommandExecutor(Executor):
    """Runs command:local:Command programs for real, inside the Docker host's network namespace
    (ctx.command_prefix), with stdin as declared. LUKS programs go to LuksDataDirStandIn."""

    type = "command:local:Command"
    fields = {
        "create": HONOURED,
        "update": HONOURED,
        "delete": HONOURED,
        "stdin": HONOURED,
        "triggers": HONOURED,
        "interpreter": HONOURED,
        "addPreviousOutputInEnv": HONOURED,
    }

    def __init__(self, luks: LuksDataDirStandIn | None = None) -> None:
        self.luks = luks or LuksDataDirStandIn()
        self.secret_files = SecretFileOnPlainDisk()

    def _run(self, ctx: Context, req: Request, text: str | None) -> dict[str, Any]:
        if req.inputs.get("addPreviousOutputInEnv", True):
            raise UnhonouredInput(f"command {req.name!r}: addPreviousOutputInEnv must be false")
        if not text:
            return {}
        luks = luks_program(text)
        if luks is not None:
            return self.luks.run(ctx, req.name, *luks)
        text = self.secret_files.adapt(ctx, req.name, text)
        interpreter = req.inputs.get("interpreter") or ["/bin/sh", "-c"]
        result = subprocess.run(
            [*ctx.command_prefix, *interpreter, text],
            input=req.inputs.get("stdin"),
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        ctx.log.append(f"command {req.name}: exit {result.returncode}")
        if result.returncode != 0:
            raise RuntimeError(f"command {req.name!r} failed ({result.returncode}):\n{result.stderr[-2000:]}")
        return {"stdout": result.stdout.rstrip("\n"), "stderr": result.stderr.rstrip("\n")}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        outputs = self._run(ctx, req, req.inputs.get("create"))
        return f"{req.name}-{uuid.uuid4().hex[:8]}", {**req.inputs, **outputs}

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        outputs = self._run(ctx, req, req.inputs.get("update") or req.inputs.get("create"))
        return previous.id, {**req.inputs, **outputs}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        self._run(ctx, recorded.request, recorded.request.inputs.get("delete"))


class LuksDataDirStandIn:
    """Stands in for EncryptedVolume's LUKS programs (no device-mapper here): `ensure` creates
    EP_DATA_DIR with EP_DATA_OWNER and EP_DATA_MODE, `reencrypt` and `delete` do nothing. The
    data directory is what the docker.Volume binds; it is NOT encrypted in this tier."""

    def __init__(self) -> None:
        self.prepared: list[str] = []

    def run(self, ctx: Context, name: str, kind: str, program: str) -> dict[str, Any]:
        if kind == "ensure":
            data_dir = Path(_luks_parameter(program, "EP_DATA_DIR"))
            owner = _luks_parameter(program, "EP_DATA_OWNER")
            mode = int(_luks_parameter(program, "EP_DATA_MODE"), 8)
            data_dir.mkdir(parents=True, exist_ok=True)
            uid, gid = (int(x) for x in owner.split(":"))
            os.chown(data_dir, uid, gid)
            data_dir.chmod(mode)
            self.prepared.append(str(data_dir))
            ctx.log.append(f"LUKS stand-in {name}: prepared {data_dir} ({owner} {oct(mode)}), no encryption")
        return {"stdout": f"luks stand-in: {kind}", "stderr": ""}


class SecretFileOnPlainDisk:
    """SecretFile programs (`ep-secret-file-*`) run for real, except their refusal to write unless
    the volume's data directory sits on its unlocked /dev/mapper device: with the LUKS stand-in
    there is no mapper here, so that one check becomes "the mount point exists". The refusal
    itself is tested against real LUKS mappings in the edge and vm tiers."""

    CHECK = "sf_require_encrypted_storage() {"
    REPLACEMENT = (
        "sf_require_encrypted_storage() {\n"
        '  [ -d "$EP_MOUNT" ] || ep_die "$EP_MOUNT does not exist"  # docker tier: no LUKS mapping\n'
        "}\n"
        "_sf_require_encrypted_storage_not_used_in_the_docker_tier() {"
    )

    def adapt(self, ctx: Context, name: str, text: str) -> str:
        if "ep-secret-file-" not in text:
            return text
        argv = shlex.split(text)
        prefix = argv[:2] if argv[:2] == ["sudo", "-n"] else []
        argv = argv[len(prefix) :]
        if len(argv) != 4 or argv[:2] != ["bash", "-c"] or not argv[3].startswith("ep-secret-file-"):
            return text
        program = argv[2]
        if program.count(self.CHECK) != 1:
            raise UnhonouredInput(f"SecretFile program of {name!r} without its storage check")
        ctx.log.append(f"SecretFile {name}: storage check replaced (no LUKS mapping in this tier)")
        return shlex.join([*prefix, "bash", "-c", program.replace(self.CHECK, self.REPLACEMENT), argv[3]])
