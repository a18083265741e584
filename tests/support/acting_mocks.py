"""Acting mocks: run a Pulumi program under the SDK's mock runtime and *perform* every resource it
declares, with exactly the inputs it declared, on a real Docker engine and a real shell.

`deploy(config, mocks)` runs __main__.py (or a given function) like `program_runner.run_program`;
the difference is `ActingMocks`: for each registered custom resource it looks up the executor of
the resource's type and lets it create the thing for real (docker networks, volumes and containers
through the Docker SDK, commands through a shell, random values and TLS keys through `secrets` and
`cryptography`). Any type without an executor, and any input field an executor does not honour,
fails the run loudly (`UnhonouredInput`), so a test can never pass because an input was silently
dropped.

Deliberate, named substitutions (nothing else is faked):
- Images: `docker:index/remoteImage:RemoteImage` never pulls (there is no registry). The test
  declares `image_map = {<pinned reference in the program>: <locally imported stand-in image>}`;
  an unmapped reference fails the run.
- LUKS: `LuksDataDirStandIn` executes the LUKS commands of EncryptedVolume (`ep-luks-ensure-*`,
  `ep-luks-reencrypt-*`, `ep-luks-delete-*`): it only creates the data directory the docker.Volume
  binds (EP_DATA_DIR, owner EP_DATA_OWNER, mode EP_DATA_MODE, read from the program's parameter
  block). No cryptsetup runs: this machine has no device-mapper. LUKS itself is tested for real in
  the host and vm tiers. For the same reason `SecretFileOnPlainDisk` runs SecretFile programs with
  their "is this directory on the LUKS mapping" check reduced to "does it exist"; everything else
  in them (stdin only, owner, mode, atomic rename) runs as written.
- Host commands run in the Docker host's network namespace with the host's boot-persistence paths
  (/usr/local/sbin, /run/systemd) masked by empty tmpfs mounts (`Context.command_prefix`), so a
  test never installs boot-time programs on the machine that runs it.

State: an `ActingMocks` keeps, per URN, the inputs, id and outputs of the previous run. Running the
program again with the same instance compares inputs: unchanged resources are kept, changed ones
are updated or replaced as the real provider would (PROVIDER_REPLACEMENT, read from the providers'
sources; each executor's `replace_on`), and
resources no longer declared are deleted (reverse order) by `finish()`. A later issue can plug in
executors that act on a remote host over SSH: an executor only needs `create`, `update` and
`delete`.

Honoured input fields (everything else raises UnhonouredInput):
  pulumi:providers:docker            host
  docker:index/network:Network       name, driver, internal, attachable, options, labels[label,value]
  docker:index/volume:Volume         name, driver, driverOpts, labels[label,value]
  docker:index/remoteImage:RemoteImage  name (through image_map), keepLocally (must be true)
  docker:index/container:Container   name, image, user, command, entrypoints, envs, labels,
      hostname, workingDir, networksAdvanced[name, aliases], mounts[type (volume|tmpfs|bind),
      source, target, readOnly, tmpfsOptions[sizeBytes, mode]], tmpfs, readOnly, privileged, ipcMode,
      networkMode, capabilities[adds, drops], securityOpts, memory, memorySwap, cpus, healthcheck
      [tests, interval, timeout, retries, startPeriod], restart, maxRetryCount, logDriver,
      logOpts, ports[internal, external, ip, protocol], uploads[file, content, contentBase64,
      executable], mustRun, start, init, stopSignal, stopTimeout, destroyGraceSeconds,
      removeVolumes
      Order as in the provider (kreuzwerker/docker resourceDockerContainerCreate): create (on
      networkMode, else the engine's default bridge), disconnect 'bridge', connect each
      networksAdvanced entry, copy uploads to '/', start, then fail if it is not running.
  command:local:Command              create, update, delete, stdin, triggers, interpreter,
      addPreviousOutputInEnv (must be false). Run inside the Docker host's network namespace.
  random:index/randomPassword:RandomPassword  length, special, upper, lower, numeric, number,
      minUpper, minLower, minNumeric, minSpecial, overrideSpecial
  tls:index/privateKey:PrivateKey    algorithm (RSA|ECDSA|ED25519), rsaBits, ecdsaCurve
  tls:index/selfSignedCert:SelfSignedCert  privateKeyPem, subject[commonName, organization,
      organizationalUnit, country, locality, province], validityPeriodHours, earlyRenewalHours,
      allowedUses, isCaCertificate, dnsNames, ipAddresses
  tls:index/certRequest:CertRequest  privateKeyPem, subject[...as above], dnsNames, ipAddresses
  tls:index/locallySignedCert:LocallySignedCert  certRequestPem, caPrivateKeyPem, caCertPem,
      validityPeriodHours, earlyRenewalHours, allowedUses, isCaCertificate
  docker:index/secret:Secret         data (base64), labels, name (else auto-named)
  docker:index/service:Service       name, labels, mode.replicated.replicas, endpointSpec.mode,
      taskSpec: containerSpec[image (through image_map), args, env, labels, user, readOnly,
      capDrops, capAdds, mounts[type, source, target, readOnly, volumeOptions[driverName,
      driverOptions], tmpfsOptions[sizeBytes, mode]], secrets[secretId, secretName, fileName,
      fileUid, fileGid, fileMode], healthcheck[...]], resources.limits[memoryBytes, nanoCpus],
      restartPolicy.condition, placement.constraints, networksAdvanceds[id, aliases],
      logDriver[name, options]
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import ipaddress
import os
import re
import secrets
import shlex
import string
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pulumi
from docker.types import Healthcheck, LogConfig, Mount
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .program_runner import (
    PROJECT,
    ProgramRun,
    RecordingMonitor,
    reveal,
    run_main,
    set_engine_config,
    start_mock_runtime,
)

HONOURED = True  # marker in field specs: a leaf field the executor applies


class UnhonouredInput(RuntimeError):
    """The program declared something the acting mocks cannot perform faithfully."""


# --- field checking ---------------------------------------------------------------------------


def check_fields(type_: str, name: str, inputs: Any, spec: Mapping[str, Any], path: str = "") -> None:
    """Raises UnhonouredInput for any key of `inputs` (recursively) that `spec` does not list."""
    if isinstance(inputs, list):
        for i, item in enumerate(inputs):
            check_fields(type_, name, item, spec, f"{path}[{i}]")
        return
    if not isinstance(inputs, Mapping):
        return
    for key, value in inputs.items():
        where = f"{path}.{key}" if path else key
        if key not in spec:
            raise UnhonouredInput(
                f"{type_} {name!r}: input {where!r} is not honoured by the acting mocks "
                f"(honoured: {', '.join(sorted(spec))})"
            )
        nested = spec[key]
        if isinstance(nested, Mapping) and value is not None:
            check_fields(type_, name, value, nested, where)


def _memory_swap_bytes(inputs: Mapping[str, Any]) -> int | None:
    """As the provider passes memory_swap: MiB when positive, -1 (no limit the daemon can set) as is."""
    if "memorySwap" not in inputs:
        return None
    swap = _int(inputs["memorySwap"])
    return swap * 1024 * 1024 if swap > 0 else (swap or None)


def _int(value: Any) -> int:
    return int(round(float(value)))


def _duration_ns(value: str) -> int:
    """Go durations as the provider accepts them ('30s', '1m30s', '500ms') -> nanoseconds."""
    units = {
        "ns": 1,
        "us": 1_000,
        "ms": 1_000_000,
        "s": 1_000_000_000,
        "m": 60_000_000_000,
        "h": 3_600_000_000_000,
    }
    total = 0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value):
        total += int(float(number) * units[unit])
    if total == 0 and value not in ("0", "0s"):
        raise UnhonouredInput(f"cannot parse duration {value!r}")
    return total


# --- context and executors --------------------------------------------------------------------


@dataclass
class Request:
    """What the engine would know about one registration."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str
    parent: str
    dependencies: list[str]
    delete_before_replace: bool
    protect: bool = False
    # The `replaceOnChanges` resource option: the engine replaces when one of these inputs
    # changes, whatever the provider says ("*": any input).
    replace_on_changes: tuple[str, ...] = ()


class ProtectedResource(RuntimeError):
    """The engine refuses to delete a resource whose state says `protect` (until
    `pulumi state unprotect`), and the run fails."""


@dataclass
class Recorded:
    request: Request
    id: str
    outputs: dict[str, Any]


class Context:
    """What executors share: Docker clients per provider, the image map, the command runner."""

    def __init__(
        self,
        *,
        image_map: Mapping[str, str],
        command_prefix: list[str],
        default_docker_host: str | None = None,
    ) -> None:
        self.image_map = dict(image_map)
        self.command_prefix = list(command_prefix)
        self.default_docker_host = default_docker_host
        self.clients: dict[str, docker.DockerClient] = {}
        self.log: list[str] = []

    def client(self, provider_ref: str) -> docker.DockerClient:
        """The Docker client of a provider reference ('<provider urn>::<provider id>')."""
        client = self.clients.get(provider_ref)
        if client is not None:
            return client
        if not provider_ref and self.default_docker_host:
            return self._open(self.default_docker_host)
        raise UnhonouredInput(
            f"no docker provider registered for {provider_ref or 'the default provider'}; "
            "the program must pass an explicit docker.Provider"
        )

    def _open(self, host: str) -> docker.DockerClient:
        return docker.DockerClient(base_url=host, version="1.41", timeout=120)


# --- what the real providers replace ---------------------------------------------------------
#
# For every input the program sets: does a change make the real provider REPLACE the resource
# (create the new one, delete the old one) or update it in place? Read from the providers'
# sources at the versions requirements.txt pins (tests/README.md, "Provider semantics the
# stand-in encodes", lists the files and commits).
#
# The docker provider is bridged from a Terraform plugin-SDK provider, where a nested block (a
# list or set of objects) with `ForceNew` replaces only when its number of elements changes;
# inside an element each field counts with its own `ForceNew` (helper/schema/schema.go diffList
# and diffSet; the bridge mirrors it, pkg/tfbridge/property_path.go
# propertyPathTriggersReplacement). A set compares elements by value: a changed element is an
# old one removed and a new one added, which replaces when either holds a non-empty ForceNew
# field. `Block` encodes exactly that; FORCE_NEW and IN_PLACE are leaf rules.

FORCE_NEW = "force-new"  # any change replaces
IN_PLACE = "in-place"  # the provider's update runs (which may not apply the change: see the table)


@dataclass(frozen=True)
class Block:
    """A nested block of a bridged provider: `fields` rule each element, `force_new` is the
    block's own ForceNew (its element count), `ordered` tells a list (by position) from a set."""

    fields: Mapping[str, Rule]
    force_new: bool = False
    ordered: bool = True


Rule = str | Block


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _elements(value: Any) -> list[Mapping[str, Any]]:
    """A block's elements; the bridge flattens a one-element block (MaxItems 1) to an object."""
    if _blank(value):
        return []
    return [value] if isinstance(value, Mapping) else list(value)


def _rule(rules: Mapping[str, Rule], key: str, path: str) -> Rule:
    if key not in rules:
        raise UnhonouredInput(f"no replacement rule for input {path!r}: read it from the provider's source")
    return rules[key]


def _same(old: Any, new: Any) -> bool:
    return old == new or (_blank(old) and _blank(new))


def _replaces(rule: Rule, old: Any, new: Any, path: str) -> bool:
    if _same(old, new):
        return False
    if rule == FORCE_NEW:
        return True
    if rule == IN_PLACE:
        return False
    assert isinstance(rule, Block)
    olds, news = _elements(old), _elements(new)
    if len(olds) != len(news) and rule.force_new:
        return True
    if not rule.ordered:
        removed = [o for o in olds if o not in news]
        added = [n for n in news if n not in olds]
        return any(_holds_force_new(rule, e, path) for e in removed + added)
    for i in range(max(len(olds), len(news))):
        if i >= len(olds) or i >= len(news):
            if _holds_force_new(rule, (olds if i < len(olds) else news)[i], path):
                return True
            continue
        o, n = olds[i], news[i]
        for key in set(o) | set(n):
            if _replaces(_rule(rule.fields, key, f"{path}[{i}].{key}"), o.get(key), n.get(key), path):
                return True
    return False


def _holds_force_new(block: Block, element: Mapping[str, Any], path: str) -> bool:
    """Whether adding or removing this element replaces: it has a non-empty ForceNew field."""
    for key, value in element.items():
        if _blank(value):
            continue
        rule = _rule(block.fields, key, f"{path}.{key}")
        if rule == FORCE_NEW:
            return True
        if isinstance(rule, Block) and (
            rule.force_new or any(_holds_force_new(rule, e, f"{path}.{key}") for e in _elements(value))
        ):
            return True
    return False


def replacing_inputs(rules: Mapping[str, Rule], old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The top-level inputs whose change from `old` to `new` makes the provider replace."""
    return [
        key
        for key in sorted(set(old) | set(new))
        if _replaces(_rule(rules, key, key), old.get(key), new.get(key), key)
    ]


def _replaced_on_request(paths: tuple[str, ...], old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a change falls under the resource's `replaceOnChanges`, matched as the engine does
    (pkg/resource/deploy/step_generator.go applyReplaceOnChanges: the path must contain the
    changed path). Honoured paths: "*", an input name (any change at or below it) and
    "name[*]" (a change of an element: both values are collections; the SDKs add
    "triggers[*]" for pulumi-command's schema)."""
    for path in paths:
        name, elements = (path[:-3], True) if path.endswith("[*]") else (path, False)
        if path != "*" and not name.isidentifier():
            raise UnhonouredInput(f"replaceOnChanges path {path!r} is not honoured")
        keys = set(old) | set(new) if path == "*" else {name}
        for key in keys:
            before, after = old.get(key), new.get(key)
            if _same(before, after) or (elements and (_blank(before) or _blank(after))):
                continue
            return True
    return False


# labelSchema (kreuzwerker internal/provider/helpers.go newLabelSchema(true)): label and value
# are ForceNew, so any label change replaces a network, volume, container or secret.
_LABEL_SET = Block({"label": FORCE_NEW, "value": FORCE_NEW}, force_new=True, ordered=False)
_COMMAND_INPUTS: dict[str, Rule] = {
    # pulumi-command provider/pkg/provider/common/inputs.go: only `triggers` carries
    # provider:"replaceOnChanges"; the Command has no custom Diff, so pulumi-go-provider's default
    # diff (infer/resource.go) makes every other change an update (`update`, else `create`).
    "triggers": FORCE_NEW,
    "create": IN_PLACE,
    "update": IN_PLACE,
    "delete": IN_PLACE,
    "stdin": IN_PLACE,
    "interpreter": IN_PLACE,
    "addPreviousOutputInEnv": IN_PLACE,
}
_TLS_SUBJECT = FORCE_NEW  # subject block and each of its attributes: RequiresReplace

PROVIDER_REPLACEMENT: dict[str, dict[str, Rule]] = {
    # pulumi-docker provider/resources.go sets no ForcesProviderReplace on the provider config,
    # so the bridge's DiffConfig (pkg/tfbridge/provider.go configDiffer) never replaces it.
    "pulumi:providers:docker": {"host": IN_PLACE, "version": IN_PLACE, "sshOpts": IN_PLACE},
    # resource_docker_network.go: no Update at all, every field ForceNew.
    "docker:index/network:Network": {
        "name": FORCE_NEW,
        "driver": FORCE_NEW,
        "internal": FORCE_NEW,
        "attachable": FORCE_NEW,
        "options": FORCE_NEW,
        "labels": _LABEL_SET,
    },
    # resource_docker_volume.go: name, driver, driver_opts, labels ForceNew; the Update only
    # changes cluster.availability (a Swarm cluster volume).
    "docker:index/volume:Volume": {
        "name": FORCE_NEW,
        "driver": FORCE_NEW,
        "driverOpts": FORCE_NEW,
        "labels": _LABEL_SET,
    },
    # resource_docker_image.go (docker_image = RemoteImage): name ForceNew, keep_locally updatable.
    "docker:index/remoteImage:RemoteImage": {"name": FORCE_NEW, "keepLocally": IN_PLACE},
    # resource_docker_container.go; resourceDockerContainerUpdate (..._funcs.go) applies only
    # restart, max_retry_count, memory, memory_swap (and cpu_shares, cpu_set, blkio limits) and
    # starts a container whose must_run went true. The other non-ForceNew inputs below (tmpfs,
    # healthcheck, init, and a mount's type/source/target/read_only at an unchanged count) are
    # IN_PLACE without being applied: the running container keeps the old value.
    "docker:index/container:Container": {
        "name": FORCE_NEW,
        "image": FORCE_NEW,
        "user": FORCE_NEW,
        "command": FORCE_NEW,
        "entrypoints": FORCE_NEW,
        "envs": FORCE_NEW,
        "labels": _LABEL_SET,
        "hostname": FORCE_NEW,
        "workingDir": FORCE_NEW,
        "networksAdvanced": Block({"name": FORCE_NEW, "aliases": FORCE_NEW}, force_new=True, ordered=False),
        "mounts": Block(
            {
                "type": IN_PLACE,
                "source": IN_PLACE,
                "target": IN_PLACE,
                "readOnly": IN_PLACE,
                "tmpfsOptions": Block({"sizeBytes": IN_PLACE, "mode": IN_PLACE}, force_new=True),
            },
            force_new=True,
            ordered=False,
        ),
        "tmpfs": IN_PLACE,
        "readOnly": FORCE_NEW,
        "privileged": FORCE_NEW,
        "ipcMode": FORCE_NEW,
        "networkMode": FORCE_NEW,
        "capabilities": Block({"adds": FORCE_NEW, "drops": FORCE_NEW}, force_new=True, ordered=False),
        "securityOpts": FORCE_NEW,
        "memory": IN_PLACE,
        "memorySwap": IN_PLACE,
        "cpus": FORCE_NEW,
        "healthcheck": IN_PLACE,
        "restart": IN_PLACE,
        "maxRetryCount": IN_PLACE,
        "logDriver": FORCE_NEW,
        "logOpts": FORCE_NEW,
        "ports": Block(
            {"internal": FORCE_NEW, "external": FORCE_NEW, "ip": FORCE_NEW, "protocol": FORCE_NEW},
            force_new=True,
        ),
        "uploads": Block(
            {"file": FORCE_NEW, "content": FORCE_NEW, "contentBase64": FORCE_NEW, "executable": FORCE_NEW},
            force_new=True,
            ordered=False,
        ),
        "mustRun": IN_PLACE,
        "start": IN_PLACE,
        "init": IN_PLACE,
        "stopSignal": FORCE_NEW,
        "stopTimeout": FORCE_NEW,
        "destroyGraceSeconds": IN_PLACE,
        "removeVolumes": IN_PLACE,
    },
    # resource_docker_secret.go: no Update, every field ForceNew.
    "docker:index/secret:Secret": {"name": FORCE_NEW, "data": FORCE_NEW, "labels": _LABEL_SET},
    # resource_docker_service.go (Update exists): ForceNew are name, mode (the block: its count
    # only), the container spec's labels (labelSchema) and each task network attachment's fields.
    "docker:index/service:Service": {
        "name": FORCE_NEW,
        "labels": IN_PLACE,  # labelSchemaUpdatable
        "taskSpec": Block(
            {
                "containerSpec": Block(
                    {
                        "image": IN_PLACE,
                        "args": IN_PLACE,
                        "env": IN_PLACE,
                        "labels": Block({"label": FORCE_NEW, "value": FORCE_NEW}, ordered=False),
                        "user": IN_PLACE,
                        "readOnly": IN_PLACE,
                        "capDrops": IN_PLACE,
                        "capAdds": IN_PLACE,
                        "mounts": IN_PLACE,
                        "secrets": IN_PLACE,
                        "healthcheck": IN_PLACE,
                    }
                ),
                "resources": IN_PLACE,
                "restartPolicy": IN_PLACE,
                "placement": IN_PLACE,
                "networksAdvanceds": Block(
                    {"id": FORCE_NEW, "name": FORCE_NEW, "aliases": FORCE_NEW}, ordered=False
                ),
                "logDriver": IN_PLACE,
            }
        ),
        "mode": Block({"replicated": IN_PLACE}, force_new=True),
        "endpointSpec": IN_PLACE,
    },
    "command:local:Command": dict(_COMMAND_INPUTS),
    # provider/pkg/provider/remote/command.go: `connection` (a new key, host, user) is an update.
    "command:remote:Command": {**_COMMAND_INPUTS, "connection": IN_PLACE},
    # terraform-provider-random internal/provider/resource_password.go (schema version 3): every
    # argument has RequiresReplace (keepers: RequiresReplaceIfValuesNotNull; override_special:
    # unless "" -> null).
    "random:index/randomPassword:RandomPassword": dict.fromkeys(
        (
            "keepers",
            "length",
            "special",
            "upper",
            "lower",
            "numeric",
            "number",
            "minUpper",
            "minLower",
            "minNumeric",
            "minSpecial",
            "overrideSpecial",
        ),
        FORCE_NEW,
    ),
    # terraform-provider-tls internal/provider/resource_private_key.go: all RequiresReplace.
    "tls:index/privateKey:PrivateKey": {
        "algorithm": FORCE_NEW,
        "rsaBits": FORCE_NEW,
        "ecdsaCurve": FORCE_NEW,
    },
    # resource_self_signed_cert.go: everything but early_renewal_hours replaces (private_key_pem:
    # requireReplaceIfStateContainsPEMString); a certificate in its renewal window is replaced
    # by ModifyPlan (common_cert.go), which no input change here models.
    "tls:index/selfSignedCert:SelfSignedCert": {
        "privateKeyPem": FORCE_NEW,
        "subject": _TLS_SUBJECT,
        "validityPeriodHours": FORCE_NEW,
        "earlyRenewalHours": IN_PLACE,
        "allowedUses": FORCE_NEW,
        "isCaCertificate": FORCE_NEW,
        "dnsNames": FORCE_NEW,
        "ipAddresses": FORCE_NEW,
        "setSubjectKeyId": FORCE_NEW,
    },
    # resource_cert_request.go: every argument replaces.
    "tls:index/certRequest:CertRequest": {
        "privateKeyPem": FORCE_NEW,
        "subject": _TLS_SUBJECT,
        "dnsNames": FORCE_NEW,
        "ipAddresses": FORCE_NEW,
    },
    # resource_locally_signed_cert.go: everything but early_renewal_hours replaces.
    "tls:index/locallySignedCert:LocallySignedCert": {
        "certRequestPem": FORCE_NEW,
        "caPrivateKeyPem": FORCE_NEW,
        "caCertPem": FORCE_NEW,
        "validityPeriodHours": FORCE_NEW,
        "earlyRenewalHours": IN_PLACE,
        "allowedUses": FORCE_NEW,
        "isCaCertificate": FORCE_NEW,
    },
}

# pulumi-docker provider/resources.go: docker_container has DeleteBeforeReplace (a fixed name
# cannot exist twice). Every other type is replaced create-first, the old one deleted at the end.
PROVIDER_DELETE_BEFORE_REPLACE = frozenset({"docker:index/container:Container"})


class Executor:
    type: str = ""
    fields: Mapping[str, Any] = {}

    @property
    def replace_on(self) -> Mapping[str, Rule]:
        """How the real provider treats a change of each input (PROVIDER_REPLACEMENT)."""
        return PROVIDER_REPLACEMENT[self.type]

    @property
    def delete_before_replace(self) -> bool:
        return self.type in PROVIDER_DELETE_BEFORE_REPLACE

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        """Only reached for IN_PLACE changes (everything else replaces). The default: the provider
        applies nothing to the real object and records the new inputs (what the bridged docker,
        random and tls providers do for their updatable-only-in-state arguments)."""
        return previous.id, {**previous.outputs, **req.inputs}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        raise NotImplementedError

    def needs_replace(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        return bool(replacing_inputs(self.replace_on, old, new))


class DockerProviderExecutor(Executor):
    type = "pulumi:providers:docker"
    fields = {"host": HONOURED, "version": HONOURED}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        host = req.inputs.get("host")
        if not host:
            raise UnhonouredInput(f"docker provider {req.name!r} without host")
        client = ctx._open(host)
        client.ping()
        provider_id = str(uuid.uuid4())
        ctx.clients[f"{req.urn}::{provider_id}"] = client
        return provider_id, dict(req.inputs)

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        ctx.clients[f"{req.urn}::{previous.id}"] = ctx._open(req.inputs["host"])
        return previous.id, dict(req.inputs)

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        ctx.clients.pop(f"{recorded.request.urn}::{recorded.id}", None)


_LABELS = {"label": HONOURED, "value": HONOURED}


def _labels(items: list[Mapping[str, str]] | None) -> dict[str, str]:
    return {item["label"]: item["value"] for item in items or []}


class NetworkExecutor(Executor):
    type = "docker:index/network:Network"
    fields = {
        "name": HONOURED,
        "driver": HONOURED,
        "internal": HONOURED,
        "attachable": HONOURED,
        "options": HONOURED,
        "labels": _LABELS,
    }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        i = req.inputs
        network = ctx.client(req.provider).networks.create(
            i.get("name") or req.name,
            driver=i.get("driver", "bridge"),
            internal=bool(i.get("internal", False)),
            attachable=bool(i.get("attachable", False)) if i.get("driver") == "overlay" else None,
            options=i.get("options"),
            labels=_labels(i.get("labels")),
            check_duplicate=True,
        )
        return network.id, {**i, "name": network.name}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            ctx.client(recorded.request.provider).networks.get(recorded.id).remove()


class VolumeExecutor(Executor):
    type = "docker:index/volume:Volume"
    fields = {"name": HONOURED, "driver": HONOURED, "driverOpts": HONOURED, "labels": _LABELS}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        i = req.inputs
        volume = ctx.client(req.provider).volumes.create(
            name=i.get("name") or req.name,
            driver=i.get("driver", "local"),
            driver_opts=i.get("driverOpts"),
            labels=_labels(i.get("labels")),
        )
        return volume.name, {**i, "name": volume.name, "mountpoint": volume.attrs.get("Mountpoint", "")}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            ctx.client(recorded.request.provider).volumes.get(recorded.id).remove()


class RemoteImageExecutor(Executor):
    """Never pulls: maps the pinned reference to a locally imported stand-in (ctx.image_map)."""

    type = "docker:index/remoteImage:RemoteImage"
    fields = {"name": HONOURED, "keepLocally": HONOURED}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        reference = req.inputs["name"]
        if not req.inputs.get("keepLocally", False):
            raise UnhonouredInput(
                f"RemoteImage {req.name!r}: keepLocally=false (removing images) is not honoured"
            )
        local = ctx.image_map.get(reference)
        if local is None:
            raise UnhonouredInput(
                f"RemoteImage {req.name!r}: no stand-in declared for {reference!r} in the test's image_map"
            )
        image = ctx.client(req.provider).images.get(local)
        ctx.log.append(f"image {reference} -> stand-in {local} ({image.id[:19]})")
        return f"{image.id}{reference}", {**req.inputs, "imageId": image.id, "repoDigest": ""}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        return None  # keepLocally


class ContainerExecutor(Executor):
    type = "docker:index/container:Container"
    fields = {
        "name": HONOURED,
        "image": HONOURED,
        "user": HONOURED,
        "command": HONOURED,
        "entrypoints": HONOURED,
        "envs": HONOURED,
        "labels": _LABELS,
        "hostname": HONOURED,
        "workingDir": HONOURED,
        "networksAdvanced": {"name": HONOURED, "aliases": HONOURED},
        "mounts": {
            "type": HONOURED,
            "source": HONOURED,
            "target": HONOURED,
            "readOnly": HONOURED,
            "tmpfsOptions": {"sizeBytes": HONOURED, "mode": HONOURED},
        },
        "tmpfs": HONOURED,
        "readOnly": HONOURED,
        "privileged": HONOURED,
        "ipcMode": HONOURED,
        "networkMode": HONOURED,
        "capabilities": {"adds": HONOURED, "drops": HONOURED},
        "securityOpts": HONOURED,
        "memory": HONOURED,
        "memorySwap": HONOURED,
        "cpus": HONOURED,
        "healthcheck": {
            "tests": HONOURED,
            "interval": HONOURED,
            "timeout": HONOURED,
            "retries": HONOURED,
            "startPeriod": HONOURED,
        },
        "restart": HONOURED,
        "maxRetryCount": HONOURED,
        "logDriver": HONOURED,
        "logOpts": HONOURED,
        "ports": {"internal": HONOURED, "external": HONOURED, "ip": HONOURED, "protocol": HONOURED},
        "uploads": {"file": HONOURED, "content": HONOURED, "contentBase64": HONOURED, "executable": HONOURED},
        "mustRun": HONOURED,
        "start": HONOURED,
        "init": HONOURED,
        "stopSignal": HONOURED,
        "stopTimeout": HONOURED,
        "destroyGraceSeconds": HONOURED,
        "removeVolumes": HONOURED,
    }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        i = req.inputs
        client = ctx.client(req.provider)
        api = client.api
        mounts = []
        for m in i.get("mounts") or []:
            kind = m.get("type", "volume")
            if kind not in ("volume", "tmpfs", "bind"):
                raise UnhonouredInput(f"container {req.name!r}: mount type {kind!r}")
            tmpfs = m.get("tmpfsOptions") or {}
            mounts.append(
                Mount(
                    target=m["target"],
                    source=m.get("source"),
                    type=kind,
                    read_only=bool(m.get("readOnly", False)),
                    tmpfs_size=_int(tmpfs["sizeBytes"]) if "sizeBytes" in tmpfs else None,
                    tmpfs_mode=_int(tmpfs["mode"]) if "mode" in tmpfs else None,
                )
            )
        port_bindings: dict[str, Any] = {}
        exposed = []
        for p in i.get("ports") or []:
            protocol = p.get("protocol", "tcp")
            exposed.append((_int(p["internal"]), protocol))
            # The provider's default host address is 0.0.0.0 (here: inside the lab host's namespace).
            host = (p.get("ip", "0.0.0.0"), _int(p["external"]) if "external" in p else None)  # noqa: S104
            port_bindings[f"{_int(p['internal'])}/{protocol}"] = host
        restart = {"Name": i.get("restart", "no")}
        if restart["Name"] == "on-failure":
            restart["MaximumRetryCount"] = _int(i.get("maxRetryCount", 0))
        caps = i.get("capabilities") or {}
        host_config = api.create_host_config(
            mounts=mounts or None,
            tmpfs=i.get("tmpfs"),
            read_only=bool(i.get("readOnly", False)),
            privileged=bool(i.get("privileged", False)),
            ipc_mode=i.get("ipcMode"),
            cap_add=caps.get("adds"),
            cap_drop=caps.get("drops"),
            security_opt=i.get("securityOpts"),
            mem_limit=_int(i["memory"]) * 1024 * 1024 if "memory" in i else None,
            memswap_limit=_memory_swap_bytes(i),
            nano_cpus=int(float(i["cpus"]) * 1e9) if "cpus" in i else None,
            restart_policy=restart,
            log_config=LogConfig(type=i.get("logDriver", "json-file"), config=i.get("logOpts") or {}),
            port_bindings=port_bindings or None,
            # Unset: the engine's default (bridge); the provider disconnects it before the start.
            network_mode=i.get("networkMode"),
            init=bool(i.get("init", False)),
        )
        health = i.get("healthcheck")
        healthcheck = (
            Healthcheck(
                test=health["tests"],
                interval=_duration_ns(health.get("interval", "0s")),
                timeout=_duration_ns(health.get("timeout", "0s")),
                retries=_int(health.get("retries", 0)),
                start_period=_duration_ns(health.get("startPeriod", "0s")),
            )
            if health
            else None
        )
        created = api.create_container(
            image=i["image"],
            name=i.get("name") or req.name,
            user=i.get("user"),
            command=i.get("command"),
            entrypoint=i.get("entrypoints"),
            environment=i.get("envs"),
            labels=_labels(i.get("labels")),
            hostname=i.get("hostname"),
            working_dir=i.get("workingDir"),
            healthcheck=healthcheck,
            ports=exposed or None,
            stop_signal=i.get("stopSignal"),
            stop_timeout=_int(i["stopTimeout"]) if "stopTimeout" in i else None,
            host_config=host_config,
        )
        container_id = created["Id"]
        if i.get("networksAdvanced"):
            with contextlib.suppress(docker.errors.APIError):
                api.disconnect_container_from_network(container_id, "bridge")
            for network in i["networksAdvanced"]:
                api.connect_container_to_network(
                    container_id, network["name"], aliases=network.get("aliases")
                )
        for upload in i.get("uploads") or []:
            content = (
                base64.b64decode(upload["contentBase64"])
                if "contentBase64" in upload
                else upload["content"].encode()
            )
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                info = tarfile.TarInfo(upload["file"].lstrip("/"))
                info.size = len(content)
                info.mode = 0o744 if upload.get("executable") else 0o644
                tar.addfile(info, io.BytesIO(content))
            if not api.put_archive(container_id, "/", buffer.getvalue()):
                raise RuntimeError(f"upload of {upload['file']} into {req.name} failed")
        if i.get("start", True):
            api.start(container_id)
            if i.get("mustRun", True):
                time.sleep(0.3)
                state = api.inspect_container(container_id)["State"]
                if not state["Running"] and state.get("ExitCode", 0) != 0:
                    logs = api.logs(container_id, tail=20).decode(errors="replace")
                    raise RuntimeError(f"container {req.name} exited ({state['ExitCode']}):\n{logs}")
        return container_id, {**i, "id": container_id}

    # What resourceDockerContainerUpdate (resource_docker_container_funcs.go) applies to the
    # running container; every other IN_PLACE input only changes the state.
    UPDATED_BY_DOCKER_UPDATE = ("restart", "maxRetryCount", "memory", "memorySwap")

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        i, old = req.inputs, previous.request.inputs
        api = ctx.client(req.provider).api
        if i.get("mustRun", True) and not old.get("mustRun", True) and i.get("start", True):
            api.start(previous.id)
        if any(i.get(k) != old.get(k) for k in self.UPDATED_BY_DOCKER_UPDATE):
            restart = {"Name": i.get("restart", "no"), "MaximumRetryCount": _int(i.get("maxRetryCount", 0))}
            memory = _int(i.get("memory", 0)) * 1024 * 1024
            api.update_container(
                previous.id, restart_policy=restart, mem_limit=memory, memswap_limit=_memory_swap_bytes(i)
            )
        return previous.id, {**previous.outputs, **i}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        api = ctx.client(recorded.request.provider).api
        with contextlib.suppress(docker.errors.NotFound):
            grace = _int(recorded.request.inputs.get("destroyGraceSeconds", 0))
            if grace:
                api.stop(recorded.id, timeout=grace)
            api.remove_container(
                recorded.id, force=True, v=bool(recorded.request.inputs.get("removeVolumes", True))
            )


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


class RandomPasswordExecutor(Executor):
    type = "random:index/randomPassword:RandomPassword"
    fields = dict.fromkeys(
        (
            "length",
            "special",
            "upper",
            "lower",
            "numeric",
            "number",
            "minUpper",
            "minLower",
            "minNumeric",
            "minSpecial",
            "overrideSpecial",
        ),
        HONOURED,
    )

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        i = req.inputs
        length = _int(i["length"])
        classes: list[tuple[str, int]] = []
        if i.get("upper", True):
            classes.append((string.ascii_uppercase, _int(i.get("minUpper", 0))))
        if i.get("lower", True):
            classes.append((string.ascii_lowercase, _int(i.get("minLower", 0))))
        if i.get("numeric", i.get("number", True)):
            classes.append((string.digits, _int(i.get("minNumeric", 0))))
        if i.get("special", True):
            classes.append(
                (i.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?", _int(i.get("minSpecial", 0)))
            )
        alphabet = "".join(chars for chars, _ in classes)
        chosen = [secrets.choice(chars) for chars, minimum in classes for _ in range(minimum)]
        chosen += [secrets.choice(alphabet) for _ in range(length - len(chosen))]
        secrets.SystemRandom().shuffle(chosen)
        return "none", {**i, "result": "".join(chosen)}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        return None


class _Tls(Executor):
    _SUBJECT = {
        "commonName": HONOURED,
        "organization": HONOURED,
        "organizationalUnit": HONOURED,
        "country": HONOURED,
        "locality": HONOURED,
        "province": HONOURED,
    }

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        return None

    @staticmethod
    def _name(subject: Mapping[str, str] | None) -> Any:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        oids = {
            "commonName": NameOID.COMMON_NAME,
            "organization": NameOID.ORGANIZATION_NAME,
            "organizationalUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
            "country": NameOID.COUNTRY_NAME,
            "locality": NameOID.LOCALITY_NAME,
            "province": NameOID.STATE_OR_PROVINCE_NAME,
        }
        return x509.Name([x509.NameAttribute(oids[k], v) for k, v in (subject or {}).items()])

    @staticmethod
    def _sans(inputs: Mapping[str, Any]) -> list[Any]:
        from cryptography import x509

        sans: list[Any] = [x509.DNSName(n) for n in inputs.get("dnsNames") or []]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in inputs.get("ipAddresses") or []]
        return sans

    @staticmethod
    def _build(
        inputs: Mapping[str, Any], subject: Any, public_key: Any, issuer: Any, issuer_key: Any, sans: list
    ) -> str:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from cryptography.x509.oid import ExtendedKeyUsageOID

        uses = set(inputs.get("allowedUses") or [])
        known = {
            "digital_signature",
            "key_encipherment",
            "cert_signing",
            "crl_signing",
            "server_auth",
            "client_auth",
        }
        if uses - known:
            raise UnhonouredInput(f"allowedUses {sorted(uses - known)} are not honoured")
        now = dt.datetime.now(dt.UTC)
        is_ca = bool(inputs.get("isCaCertificate", False))
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=_int(inputs["validityPeriodHours"])))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature="digital_signature" in uses,
                    content_commitment=False,
                    key_encipherment="key_encipherment" in uses,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign="cert_signing" in uses,
                    crl_sign="crl_signing" in uses,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        )
        ekus = [
            oid
            for use, oid in (
                ("server_auth", ExtendedKeyUsageOID.SERVER_AUTH),
                ("client_auth", ExtendedKeyUsageOID.CLIENT_AUTH),
            )
            if use in uses
        ]
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if inputs.get("setSubjectKeyId"):
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False
            )
        algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        certificate = builder.sign(issuer_key, algorithm)
        return certificate.public_bytes(serialization.Encoding.PEM).decode()


class PrivateKeyExecutor(_Tls):
    type = "tls:index/privateKey:PrivateKey"
    fields = {"algorithm": HONOURED, "rsaBits": HONOURED, "ecdsaCurve": HONOURED}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        algorithm = req.inputs.get("algorithm", "RSA")
        if algorithm == "RSA":
            key: Any = rsa.generate_private_key(65537, _int(req.inputs.get("rsaBits", 2048)))
        elif algorithm == "ECDSA":
            curves = {
                "P224": ec.SECP224R1(),
                "P256": ec.SECP256R1(),
                "P384": ec.SECP384R1(),
                "P521": ec.SECP521R1(),
            }
            key = ec.generate_private_key(curves[req.inputs.get("ecdsaCurve", "P224")])
        elif algorithm == "ED25519":
            key = ed25519.Ed25519PrivateKey.generate()
        else:
            raise UnhonouredInput(f"private key algorithm {algorithm!r}")
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        return "key", {**req.inputs, "privateKeyPem": pem, "privateKeyPemPkcs8": pem, "publicKeyPem": public}


def _load_key(pem: str) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem.encode(), password=None)


class SelfSignedCertExecutor(_Tls):
    type = "tls:index/selfSignedCert:SelfSignedCert"
    fields = {
        "privateKeyPem": HONOURED,
        "subject": _Tls._SUBJECT,
        "validityPeriodHours": HONOURED,
        "earlyRenewalHours": HONOURED,
        "allowedUses": HONOURED,
        "isCaCertificate": HONOURED,
        "dnsNames": HONOURED,
        "ipAddresses": HONOURED,
        "setSubjectKeyId": HONOURED,
    }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        key = _load_key(req.inputs["privateKeyPem"])
        name = self._name(req.inputs.get("subject"))
        pem = self._build(req.inputs, name, key.public_key(), name, key, self._sans(req.inputs))
        return "cert", {**req.inputs, "certPem": pem}


class CertRequestExecutor(_Tls):
    type = "tls:index/certRequest:CertRequest"
    fields = {
        "privateKeyPem": HONOURED,
        "subject": _Tls._SUBJECT,
        "dnsNames": HONOURED,
        "ipAddresses": HONOURED,
    }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519

        key = _load_key(req.inputs["privateKeyPem"])
        builder = x509.CertificateSigningRequestBuilder().subject_name(self._name(req.inputs.get("subject")))
        sans = self._sans(req.inputs)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        csr = builder.sign(key, algorithm)
        return "csr", {**req.inputs, "certRequestPem": csr.public_bytes(serialization.Encoding.PEM).decode()}


class LocallySignedCertExecutor(_Tls):
    type = "tls:index/locallySignedCert:LocallySignedCert"
    fields = {
        "certRequestPem": HONOURED,
        "caPrivateKeyPem": HONOURED,
        "caCertPem": HONOURED,
        "validityPeriodHours": HONOURED,
        "earlyRenewalHours": HONOURED,
        "allowedUses": HONOURED,
        "isCaCertificate": HONOURED,
    }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        from cryptography import x509

        csr = x509.load_pem_x509_csr(req.inputs["certRequestPem"].encode())
        ca_cert = x509.load_pem_x509_certificate(req.inputs["caCertPem"].encode())
        ca_key = _load_key(req.inputs["caPrivateKeyPem"])
        sans: list[Any] = []
        with contextlib.suppress(x509.ExtensionNotFound):
            sans = list(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
        pem = self._build(req.inputs, csr.subject, csr.public_key(), ca_cert.subject, ca_key, sans)
        return "cert", {**req.inputs, "certPem": pem}


class SecretExecutor(Executor):
    """Swarm secrets. An unset name gets the provider's auto-name: '<resource name>-<7 hex>'."""

    type = "docker:index/secret:Secret"
    fields = {"data": HONOURED, "labels": _LABELS, "name": HONOURED}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        name = req.inputs.get("name") or f"{req.name}-{secrets.token_hex(4)[:7]}"
        created = ctx.client(req.provider).api.create_secret(
            name, base64.b64decode(req.inputs["data"]), labels=_labels(req.inputs.get("labels"))
        )
        return created["ID"], {**req.inputs, "name": name}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            ctx.client(recorded.request.provider).api.remove_secret(recorded.id)


_HEALTHCHECK = {
    "tests": HONOURED,
    "interval": HONOURED,
    "timeout": HONOURED,
    "retries": HONOURED,
    "startPeriod": HONOURED,
}


class ServiceExecutor(Executor):
    """Swarm services through the engine's service API, from the declared task spec. Like the
    provider without convergeConfig, it returns once the engine accepted the spec; tests wait for
    the tasks themselves."""

    type = "docker:index/service:Service"
    fields = {
        "name": HONOURED,
        "labels": _LABELS,
        "taskSpec": {
            "containerSpec": {
                "image": HONOURED,
                "args": HONOURED,
                "env": HONOURED,
                "labels": _LABELS,
                "user": HONOURED,
                "readOnly": HONOURED,
                "capDrops": HONOURED,
                "capAdds": HONOURED,
                "mounts": {
                    "type": HONOURED,
                    "source": HONOURED,
                    "target": HONOURED,
                    "readOnly": HONOURED,
                    "volumeOptions": {"driverName": HONOURED, "driverOptions": HONOURED},
                    "tmpfsOptions": {"sizeBytes": HONOURED, "mode": HONOURED},
                },
                "secrets": {
                    "secretId": HONOURED,
                    "secretName": HONOURED,
                    "fileName": HONOURED,
                    "fileUid": HONOURED,
                    "fileGid": HONOURED,
                    "fileMode": HONOURED,
                },
                "healthcheck": _HEALTHCHECK,
            },
            "resources": {"limits": {"memoryBytes": HONOURED, "nanoCpus": HONOURED}},
            "restartPolicy": {"condition": HONOURED},
            "placement": {"constraints": HONOURED},
            "networksAdvanceds": {"id": HONOURED, "aliases": HONOURED},
            "logDriver": {"name": HONOURED, "options": HONOURED},
        },
        "mode": {"replicated": {"replicas": HONOURED}},
        "endpointSpec": {"mode": HONOURED},
    }

    def _spec(self, ctx: Context, req: Request) -> tuple[Any, dict[str, Any]]:
        from docker import types

        i = req.inputs
        task = i["taskSpec"]
        spec = task["containerSpec"]
        mounts = []
        for m in spec.get("mounts") or []:
            volume = m.get("volumeOptions") or {}
            tmpfs = m.get("tmpfsOptions") or {}
            mounts.append(
                types.Mount(
                    target=m["target"],
                    source=m.get("source"),
                    type=m.get("type", "volume"),
                    read_only=bool(m.get("readOnly", False)),
                    driver_config=(
                        types.DriverConfig(volume["driverName"], volume.get("driverOptions"))
                        if volume
                        else None
                    ),
                    tmpfs_size=_int(tmpfs["sizeBytes"]) if "sizeBytes" in tmpfs else None,
                    tmpfs_mode=_int(tmpfs["mode"]) if "mode" in tmpfs else None,
                )
            )
        secret_refs = [
            types.SecretReference(
                secret_id=ref["secretId"],
                secret_name=ref["secretName"],
                filename=ref.get("fileName"),
                uid=ref.get("fileUid", "0"),
                gid=ref.get("fileGid", "0"),
                mode=_int(ref.get("fileMode", 0o444)),
            )
            for ref in spec.get("secrets") or []
        ]
        health = spec.get("healthcheck")
        container_spec = types.ContainerSpec(
            image=ctx.image_map[spec["image"]] if spec["image"] in ctx.image_map else _unmapped(spec),
            args=spec.get("args"),
            env=spec.get("env"),
            labels=_labels(spec.get("labels")),
            user=spec.get("user"),
            read_only=spec.get("readOnly"),
            cap_drop=spec.get("capDrops"),
            cap_add=spec.get("capAdds"),
            mounts=mounts or None,
            secrets=secret_refs or None,
            healthcheck=(
                types.Healthcheck(
                    test=health["tests"],
                    interval=_duration_ns(health.get("interval", "0s")),
                    timeout=_duration_ns(health.get("timeout", "0s")),
                    retries=_int(health.get("retries", 0)),
                    start_period=_duration_ns(health.get("startPeriod", "0s")),
                )
                if health
                else None
            ),
        )
        limits = (task.get("resources") or {}).get("limits") or {}
        log = task.get("logDriver")
        template = types.TaskTemplate(
            container_spec=container_spec,
            resources=types.Resources(
                mem_limit=_int(limits["memoryBytes"]) if "memoryBytes" in limits else None,
                cpu_limit=_int(limits["nanoCpus"]) if "nanoCpus" in limits else None,
            ),
            restart_policy=types.RestartPolicy(
                condition=(task.get("restartPolicy") or {}).get("condition", "any")
            ),
            placement=types.Placement(constraints=(task.get("placement") or {}).get("constraints")),
            log_driver=types.DriverConfig(log["name"], log.get("options")) if log else None,
            networks=[
                types.NetworkAttachmentConfig(target=n["id"], aliases=n.get("aliases"))
                for n in task.get("networksAdvanceds") or []
            ],
        )
        replicas = _int(((i.get("mode") or {}).get("replicated") or {}).get("replicas", 1))
        return template, {
            "name": i.get("name") or req.name,
            "labels": _labels(i.get("labels")),
            "mode": types.ServiceMode("replicated", replicas=replicas),
            "endpoint_spec": types.EndpointSpec(mode=(i.get("endpointSpec") or {}).get("mode", "vip")),
        }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        template, service = self._spec(ctx, req)
        created = ctx.client(req.provider).api.create_service(template, **service)
        return created["ID"], {**req.inputs, "id": created["ID"]}

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        """The provider's resourceDockerServiceUpdate: the whole new spec at the current version."""
        template, service = self._spec(ctx, req)
        api = ctx.client(req.provider).api
        version = api.inspect_service(previous.id)["Version"]["Index"]
        api.update_service(previous.id, version, task_template=template, **service)
        return previous.id, {**previous.outputs, **req.inputs}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            ctx.client(recorded.request.provider).api.remove_service(recorded.id)


def _unmapped(spec: Mapping[str, Any]) -> str:
    raise UnhonouredInput(f"Service image {spec['image']!r}: no stand-in declared in the test's image_map")


def default_executors() -> dict[str, Executor]:
    executors: list[Executor] = [
        DockerProviderExecutor(),
        NetworkExecutor(),
        VolumeExecutor(),
        RemoteImageExecutor(),
        ContainerExecutor(),
        CommandExecutor(),
        RandomPasswordExecutor(),
        PrivateKeyExecutor(),
        SelfSignedCertExecutor(),
        CertRequestExecutor(),
        LocallySignedCertExecutor(),
        SecretExecutor(),
        ServiceExecutor(),
    ]
    return {e.type: e for e in executors}


# --- the mocks and the monitor ----------------------------------------------------------------


@dataclass
class RunReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


class ActingMocks(pulumi.runtime.Mocks):
    def __init__(self, context: Context, executors: Mapping[str, Executor] | None = None) -> None:
        self.context = context
        self.executors = dict(executors or default_executors())
        self.state: dict[str, Recorded] = {}  # the previous run's resources, by URN
        self.current: dict[str, Recorded] = {}
        self.replaced_pending_delete: list[Recorded] = []  # old halves of replacements, this run
        self.order: list[str] = []  # creation order of the current state (for deletes)
        self.report = RunReport()
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    # Called by ActingMonitor before the SDK's MockMonitor asks new_resource.
    def set_request(self, request: Request) -> None:
        self._local.request = request

    def begin(self) -> None:
        self.current = {}
        self.replaced_pending_delete = []
        self.report = RunReport()
        self.errors = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if not args.custom:
            return "", {}
        request: Request = self._local.request
        try:
            return self._apply(request)
        except BaseException as exc:
            with self._lock:
                self.errors.append(exc)
            raise

    def _apply(self, req: Request) -> tuple[str, dict[str, Any]]:
        # Like the engine, independent resources are performed concurrently: the SDK registers a
        # resource only once its dependencies have resolved, so whatever arrives here at the same
        # time does not depend on each other. The lock guards only this object's bookkeeping.
        executor = self.executors.get(req.type)
        if executor is None:
            raise UnhonouredInput(f"no acting executor for resource type {req.type} ({req.name!r})")
        check_fields(req.type, req.name, req.inputs, executor.fields)
        previous = self.state.get(req.urn)
        if previous is None:
            rid, outputs = executor.create(self.context, req)
            self.report.created.append(req.urn)
        elif previous.request.inputs == req.inputs and previous.request.provider == req.provider:
            rid, outputs = previous.id, previous.outputs
            self.report.unchanged.append(req.urn)
        elif (
            executor.needs_replace(previous.request.inputs, req.inputs)
            or _replaced_on_request(req.replace_on_changes, previous.request.inputs, req.inputs)
            or previous.request.provider != req.provider
        ):
            if req.delete_before_replace or executor.delete_before_replace:
                executor.delete(self.context, previous)
                rid, outputs = executor.create(self.context, req)
            else:
                # Create before delete: the engine deletes the replaced resource at the end of
                # the run, after its dependents have been updated.
                rid, outputs = executor.create(self.context, req)
                with self._lock:
                    self.replaced_pending_delete.append(previous)
            self.report.replaced.append(req.urn)
        else:
            rid, outputs = executor.update(self.context, req, previous)
            self.report.updated.append(req.urn)
        with self._lock:
            self.current[req.urn] = Recorded(req, rid, outputs)
        return rid, outputs

    def unprotect(self, name_prefix: str) -> list[str]:
        """What `pulumi state unprotect <urn>` does to the state, for every resource whose name
        starts with the prefix: the next run may delete them."""
        found = [urn for urn in self.state if urn.rsplit("::", 1)[-1].startswith(name_prefix)]
        for urn in found:
            recorded = self.state[urn]
            recorded.request.protect = False
        return found

    def finish(self) -> RunReport:
        """Deletes what the previous run had and this run did not declare; the current run
        becomes the state the next run is compared with."""
        for recorded in reversed(self.replaced_pending_delete):
            self.executors[recorded.request.type].delete(self.context, recorded)
        self.replaced_pending_delete = []
        gone = [urn for urn in reversed(self.order) if urn in self.state and urn not in self.current]
        protected = [urn for urn in gone if self.state[urn].request.protect]
        if protected:
            raise ProtectedResource(
                "refusing to delete protected resources (pulumi state unprotect first): "
                + ", ".join(protected)
            )
        for urn in gone:
            recorded = self.state[urn]
            self.executors[recorded.request.type].delete(self.context, recorded)
            self.report.deleted.append(urn)
        self.order = [u for u in self.order if u in self.current] + [
            u for u in self.current if u not in self.order
        ]
        self.state = dict(self.current)
        return self.report

    def destroy(self) -> None:
        """Deletes every resource of the state, last created first (like `pulumi destroy`)."""
        for urn in reversed(self.order):
            recorded = self.state.get(urn)
            if recorded is not None:
                with contextlib.suppress(Exception):
                    self.executors[recorded.request.type].delete(self.context, recorded)
        self.state = {}
        self.order = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        raise UnhonouredInput(f"provider function {args.token} is not honoured by the acting mocks")


class ActingMonitor(RecordingMonitor):
    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        if request.type != "pulumi:pulumi:Stack" and request.custom:
            pulumi_mocks._ensure_event_loop()  # noqa: SLF001
            from pulumi.runtime import rpc

            inputs = rpc.deserialize_properties(request.object)
            mocks = self.mocks
            assert isinstance(mocks, ActingMocks)
            mocks.set_request(
                Request(
                    urn=self.make_urn(request.parent, request.type, request.name),
                    type=request.type,
                    name=request.name,
                    inputs=_plain(inputs),
                    provider=request.provider,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    replace_on_changes=tuple(request.replaceOnChanges),
                    protect=bool(request.protect),
                )
            )
        return super().RegisterResource(request)


def _plain(value: Any) -> Any:
    """Inputs as the provider sees them: secret markers removed, nulls dropped."""
    value = reveal(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def deploy(
    mocks: ActingMocks,
    *,
    config: Mapping[str, Any] | None = None,
    secret_config: Mapping[str, str] | None = None,
    program: Callable[[], Any] | None = None,
    project: str = PROJECT,
    stack: str = "dev",
    monitor_class: type[ActingMonitor] | None = None,
) -> tuple[ProgramRun, RunReport]:
    """Runs the program (default __main__.py) with `config` (and `secret_config`, passed as the
    engine passes secret config) and performs it through `mocks`. Raises the first executor
    error; call again with the same mocks for a second run."""
    set_engine_config(config, secret_config, project)
    monitor = (monitor_class or ActingMonitor)(mocks)
    start_mock_runtime(mocks, monitor, project=project, stack=stack, preview=False)
    mocks.begin()

    try:
        _sync_await(run_pulumi_func(lambda: run_main(program)))
    except BaseException:
        if mocks.errors:
            raise mocks.errors[0] from None
        raise
    if mocks.errors:
        raise mocks.errors[0]
    return ProgramRun(monitor.registrations), mocks.finish()
