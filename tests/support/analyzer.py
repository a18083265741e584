"""Run the policy pack the way the Pulumi engine does, and feed it real programs.

Engine side, step by step (pulumi pkg/resource/plugin/analyzer_plugin.go, step_generator.go):
1. start `python -u -m pulumi.policy <engine-address> .` in the pack directory, with the pack's
   virtualenv and the environment the engine sets (PULUMI_CONFIG, PULUMI_PROJECT, PULUMI_STACK,
   PULUMI_DRY_RUN, PULUMI_ORGANIZATION); read the port it prints;
2. Handshake (an unimplemented Handshake is fine), GetAnalyzerInfo, GetPluginInfo;
3. Configure with the policy config reconciled as the CLI does (schema defaults, initial config,
   then the --policy-pack-config file, "all" first; validated against each policy's schema);
4. ConfigureStack (stack, project, organization, config, dry_run);
5. Analyze for each custom resource: its inputs, marshalled with unknowns and secrets kept
   (unknown = the string sentinel, secret = the signature object), internal keys dropped,
   resource references as their id (or URN);
6. AnalyzeStack with every resource's *outputs* (plus parent, dependencies, property
   dependencies and provider).

Resources come from running a program under the SDK's mock runtime; the monitor records each
RegisterResource request exactly as the SDK serialised it. A "preview" run leaves the values a
provider computes (ids, generated passwords, certificates) unknown; an "update" run fills them in.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as dt
import json
import os
import secrets as pysecrets
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pulumi
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, plugin_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from .processes import stop_process
from .program_runner import run_main, set_engine_config, start_mock_runtime

REPO = Path(__file__).resolve().parents[2]
POLICY_DIR = REPO / "policy"
PROJECT = "encrypted-platform"
SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
LEVELS = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
LEVEL_VALUES = {v: k for k, v in LEVELS.items()}


# --- 1. programs under the mock runtime --------------------------------------------------------


@dataclass
class CapturedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider_ref: str  # "<provider urn>::<provider id>" or ""
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]  # wire JSON of the RegisterResource request object
    outputs: dict[str, Any]  # wire JSON of the state the (mock) provider returned


@dataclass
class CapturedStack:
    project: str
    stack: str
    preview: bool
    config: dict[str, str]  # "<project>:<key>" -> string value, as the engine passes PULUMI_CONFIG
    resources: list[CapturedResource]

    def by_name(self, name: str) -> CapturedResource:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}")
        return found[0]


def _pem_certificate(days_valid: int = 90) -> str:
    """A real self-signed certificate, valid from now: what a tls generator returns on update."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mock.example.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=days_valid))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


NAMED_DOCKER_TYPES = {
    "docker:index/volume:Volume",
    "docker:index/network:Network",
    "docker:index/container:Container",
    "docker:index/service:Service",
    "docker:index/serviceConfig:ServiceConfig",
    "docker:index/secret:Secret",
}


class UpdateMocks(pulumi.runtime.Mocks):
    """Outputs after an update: inputs plus what providers compute (ids, generated secrets and
    certificates). Nothing here acts on a host."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ in NAMED_DOCKER_TYPES:
            outputs.setdefault("name", f"{args.name}-{uuid.uuid4().hex[:7]}")  # Docker names it
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        if args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = "".join(
                pysecrets.choice(alphabet) for _ in range(int(args.inputs.get("length", 32)))
            )
        elif args.typ in ("random:index/randomUuid:RandomUuid",):
            outputs["result"] = str(uuid.uuid4())
        elif args.typ == "random:index/randomPet:RandomPet":
            outputs["id"] = "happy-mock"
        elif args.typ == "tls:index/privateKey:PrivateKey":
            outputs["privateKeyPem"] = "-----BEGIN PRIVATE KEY-----\nbW9jaw==\n-----END PRIVATE KEY-----\n"
            outputs["publicKeyOpenssh"] = "ecdsa-sha2-nistp256 AAAAmock"
        elif args.typ in (
            "tls:index/selfSignedCert:SelfSignedCert",
            "tls:index/locallySignedCert:LocallySignedCert",
        ):
            outputs["certPem"] = _pem_certificate()
        elif args.typ == "tls:index/certRequest:CertRequest":
            outputs["certRequestPem"] = (
                "-----BEGIN CERTIFICATE REQUEST-----\nbW9jaw==\n-----END CERTIFICATE REQUEST-----\n"
            )
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            outputs["imageId"] = "sha256:" + "0" * 64
            outputs["repoDigest"] = (
                str(args.inputs.get("name", "image")).split("@")[0].split(":")[0] + "@sha256:" + "1" * 64
            )
        elif args.typ in ("command:local:Command", "command:remote:Command"):
            outputs["stdout"] = ""
            outputs["stderr"] = ""
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class PreviewMocks(pulumi.runtime.Mocks):
    """Outputs at preview: the inputs only; ids and everything a provider computes stay unknown."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return "", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class WireRecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.captured: list[CapturedResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.captured.append(captured_resource(request, response))
        return response


def captured_resource(request: Any, response: Any) -> CapturedResource:
    """A RegisterResource request and the monitor's response, as the engine holds them."""
    return CapturedResource(
        urn=response.urn,
        type=request.type,
        name=request.name,
        custom=bool(request.custom),
        parent=request.parent,
        provider_ref=request.provider,
        dependencies=list(request.dependencies),
        property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
        inputs=json_format.MessageToDict(request.object),
        outputs=json_format.MessageToDict(response.object),
    )


def capture(
    program: Callable[[], Any] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    secret_config: Mapping[str, str] | None = None,
    stack: str = "dev",
    project: str = PROJECT,
    preview: bool = True,
) -> CapturedStack:
    """Runs `program` (default: the project's __main__.py) under the mock runtime and returns
    every registration as the engine would hold it."""
    all_config = set_engine_config(config, secret_config, project)
    mocks: pulumi.runtime.Mocks = PreviewMocks() if preview else UpdateMocks()
    monitor = WireRecordingMonitor(mocks)
    start_mock_runtime(mocks, monitor, project=project, stack=stack, preview=preview)
    _sync_await(run_pulumi_func(lambda: run_main(program)))
    return CapturedStack(project, stack, preview, all_config, monitor.captured)


def load_stack_config(stack: str) -> dict[str, Any]:
    data = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text()) or {}
    prefix = f"{PROJECT}:"
    return {k[len(prefix) :]: v for k, v in (data.get("config") or {}).items() if k.startswith(prefix)}


# --- 2. encoding as the engine does --------------------------------------------------------------


def engine_value(value: Any, ids: Mapping[str, str], preview: bool) -> Any:
    """MarshalProperties(KeepUnknowns, KeepSecrets, SkipInternalKeys, no KeepResources)."""
    if isinstance(value, dict):
        sig = value.get(SIG)
        if sig == SECRET_SIG:
            return {SIG: SECRET_SIG, "value": engine_value(value.get("value"), ids, preview)}
        if sig == RESOURCE_REF_SIG:
            urn = value.get("urn", "")
            if "id" in value:
                ident = value.get("id") or ids.get(urn) or ""
                return UNKNOWN if (ident == "" and preview) else ident
            return urn
        return {k: engine_value(v, ids, preview) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [engine_value(v, ids, preview) for v in value]
    return value


def as_secret(value: Any) -> Any:
    """The same value wrapped as a secret (every leaf), as if the program used Output.secret."""
    if isinstance(value, dict) and value.get(SIG) == SECRET_SIG:
        return value
    return {SIG: SECRET_SIG, "value": value}


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(props))
    return s


def _provider_of(
    res: CapturedResource, by_urn: Mapping[str, CapturedResource], preview: bool
) -> analyzer_pb2.AnalyzerProviderResource | None:
    if res.type.startswith("pulumi:providers:") or not res.custom:
        return None
    if res.provider_ref:
        urn = res.provider_ref.rsplit("::", 1)[0]
        prov = by_urn.get(urn)
        if prov is not None:
            return analyzer_pb2.AnalyzerProviderResource(
                type=prov.type,
                urn=prov.urn,
                name=prov.name,
                properties=to_struct(engine_value(prov.inputs, {}, preview)),
            )
    package = res.type.split(":", 1)[0]
    head = res.urn.split("::")[0] + "::" + res.urn.split("::")[1]
    return analyzer_pb2.AnalyzerProviderResource(
        type=f"pulumi:providers:{package}",
        urn=f"{head}::pulumi:providers:{package}::default",
        name="default",
        properties=to_struct({}),
    )


@dataclass
class EncodedStack:
    analyze: list[analyzer_pb2.AnalyzeRequest]
    stack: analyzer_pb2.AnalyzeStackRequest


def encode(captured: CapturedStack, *, all_secret: bool = False) -> EncodedStack:
    by_urn = {r.urn: r for r in captured.resources}
    ids = {r.urn: f"{r.name}-id" for r in captured.resources if not captured.preview}
    analyze: list[analyzer_pb2.AnalyzeRequest] = []
    stack_resources: list[analyzer_pb2.AnalyzerResource] = []

    def props_of(raw: Mapping[str, Any]) -> dict[str, Any]:
        out = engine_value(dict(raw), ids, captured.preview)
        if all_secret:
            out = {k: as_secret(v) for k, v in out.items()}
        return out

    for r in captured.resources:
        provider = _provider_of(r, by_urn, captured.preview)
        if r.custom:
            req = analyzer_pb2.AnalyzeRequest(
                type=r.type,
                urn=r.urn,
                name=r.name,
                properties=to_struct(props_of(r.inputs)),
                options=analyzer_pb2.AnalyzerResourceOptions(parent=r.parent),
            )
            if provider is not None:
                req.provider.CopyFrom(provider)
            analyze.append(req)
        outputs = r.inputs if (captured.preview or not r.custom) else r.outputs
        res = analyzer_pb2.AnalyzerResource(
            type=r.type,
            urn=r.urn,
            name=r.name,
            properties=to_struct(props_of(outputs) if r.custom else {}),
            options=analyzer_pb2.AnalyzerResourceOptions(),
            parent=r.parent,
            dependencies=r.dependencies,
        )
        for key, urns in r.property_dependencies.items():
            if urns:
                res.propertyDependencies[key].urns.extend(urns)
        if provider is not None:
            res.provider.CopyFrom(provider)
        stack_resources.append(res)
    root = analyzer_pb2.AnalyzerResource(
        type="pulumi:pulumi:Stack",
        urn=f"urn:pulumi:{captured.stack}::{captured.project}::pulumi:pulumi:Stack::{captured.project}-{captured.stack}",
        name=f"{captured.project}-{captured.stack}",
        properties=to_struct({}),
    )
    return EncodedStack(analyze, analyzer_pb2.AnalyzeStackRequest(resources=[root, *stack_resources]))


# --- 3. policy pack config, reconciled as the CLI does -------------------------------------------


def reconcile_config(
    info: analyzer_pb2.AnalyzerInfo, file_config: Mapping[str, Any] | None
) -> tuple[dict[str, tuple[str, dict[str, Any]]], list[str]]:
    """(policy -> (enforcement level, properties), validation errors): schema defaults, the pack's
    initial config, then the file (whose "all" sets every level first)."""
    import jsonschema

    result: dict[str, tuple[str, dict[str, Any]]] = {}
    schemas: dict[str, dict[str, Any]] = {}
    for p in info.policies:
        schema = json_format.MessageToDict(p.configSchema.properties) if p.HasField("configSchema") else {}
        props = {k: copy.deepcopy(v["default"]) for k, v in schema.items() if "default" in v}
        result[p.name] = (LEVELS[p.enforcementLevel], props)
        schemas[p.name] = {"type": "object", "properties": schema} if schema else {}
        if p.HasField("configSchema") and p.configSchema.required:
            schemas[p.name]["required"] = list(p.configSchema.required)

    def apply(cfg: Mapping[str, Any]) -> None:
        parsed: dict[str, tuple[str | None, dict[str, Any]]] = {}
        for key, value in cfg.items():
            if isinstance(value, str):
                parsed[key] = (value, {})
            else:
                v = dict(value)
                level = v.pop("enforcementLevel", None)
                parsed[key] = (level, v)
        if "all" in parsed and parsed["all"][0]:
            for k, (_, props) in list(result.items()):
                result[k] = (parsed["all"][0] or "", props)
        for key, (level, props) in parsed.items():
            if key == "all":
                continue
            old_level, old_props = result.get(key, ("", {}))
            merged = dict(old_props)
            merged.update(props)
            result[key] = (level or old_level, merged)

    for name, cfg in info.initialConfig.items():
        apply(
            {
                name: {
                    **json_format.MessageToDict(cfg.properties),
                    **({"enforcementLevel": LEVELS[cfg.enforcementLevel]} if cfg.enforcementLevel else {}),
                }
            }
        )
    if file_config:
        apply(file_config)
    errors: list[str] = []
    for name, schema in schemas.items():
        if not schema:
            continue
        validator = jsonschema.Draft7Validator(schema)
        for err in validator.iter_errors(result.get(name, ("", {}))[1]):
            errors.append(f"{name}: {err.message}")
    return result, errors


# --- 4. the pack process and the protocol -----------------------------------------------------


@dataclass
class Diagnostic:
    policy: str
    urn: str
    message: str
    level: str
    phase: str  # "analyze" | "stack"

    @property
    def resource_name(self) -> str:
        return self.urn.rsplit("::", 1)[-1] if self.urn else ""


@dataclass
class Verdict:
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def mandatory(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "mandatory"]

    def by_policy(self, policy: str) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.policy == policy]

    def policies(self, level: str | None = None) -> set[str]:
        return {d.policy for d in self.diagnostics if level is None or d.level == level}

    def describe(self) -> str:
        return (
            "\n".join(f"[{d.level}] {d.policy} {d.resource_name}: {d.message}" for d in self.diagnostics)
            or "(none)"
        )


def pack_python(policy_dir: Path = POLICY_DIR) -> str:
    """The interpreter the engine would use: the pack's virtualenv, else this one (same pins)."""
    data = yaml.safe_load((policy_dir / "PulumiPolicy.yaml").read_text())
    venv = ((data.get("runtime") or {}).get("options") or {}).get("virtualenv")
    if venv:
        # not resolve(): the venv python is a symlink to the base interpreter
        candidate = (policy_dir / venv / "bin" / "python").absolute()
        if candidate.exists():
            return str(candidate)
    return sys.executable


class PolicyPackProcess:
    """One running pack, spoken to over the Analyzer protocol. Use as a context manager."""

    def __init__(
        self,
        *,
        stack: str = "dev",
        project: str = PROJECT,
        stack_config: Mapping[str, str] | None = None,
        dry_run: bool = True,
        policy_dir: Path = POLICY_DIR,
        timeout: float = 60.0,
    ) -> None:
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("PULUMI_"):
                del env[k]
        env.update(
            {
                "PULUMI_PROJECT": project,
                "PULUMI_STACK": stack,
                "PULUMI_ORGANIZATION": "organization",
                "PULUMI_DRY_RUN": "true" if dry_run else "false",
                "PULUMI_CONFIG": json.dumps(dict(stack_config or {})),
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.stack, self.project, self.dry_run = stack, project, dry_run
        self.stack_config = dict(stack_config or {})
        # The engine address is only used by packs that log through the engine; nothing listens.
        self.process = subprocess.Popen(
            [pack_python(policy_dir), "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
            cwd=policy_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.isdigit():
            err = self.process.stderr.read() if self.process.stderr else ""
            self.close()
            raise RuntimeError(f"policy pack did not print a port: {line!r}\n{err}")
        self.port = int(line)
        self.channel = grpc.insecure_channel(
            f"127.0.0.1:{self.port}",
            options=[("grpc.max_receive_message_length", 1 << 30), ("grpc.max_send_message_length", 1 << 30)],
        )
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        self.timeout = timeout
        self.info: analyzer_pb2.AnalyzerInfo | None = None

    def __enter__(self) -> PolicyPackProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.channel.close()
        stop_process(self.process, kill_timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    # protocol ---------------------------------------------------------------------------------

    def handshake(self) -> bool:
        """True if the pack implements Handshake (pulumi_policy does not; the engine accepts that)."""
        try:
            self.stub.Handshake(
                analyzer_pb2.AnalyzerHandshakeRequest(
                    engine_address="127.0.0.1:1",
                    root_directory=str(POLICY_DIR),
                    program_directory=str(POLICY_DIR),
                ),
                timeout=self.timeout,
            )
            return True
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return False
            raise

    def analyzer_info(self) -> analyzer_pb2.AnalyzerInfo:
        self.info = self.stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=self.timeout)
        return self.info

    def plugin_info(self) -> plugin_pb2.PluginInfo:
        return self.stub.GetPluginInfo(empty_pb2.Empty(), timeout=self.timeout)

    def configure(self, file_config: Mapping[str, Any] | None = None) -> list[str]:
        """Reconciles and sends the policy config; returns the CLI's validation errors (and then
        sends nothing, as the CLI refuses to run)."""
        info = self.info or self.analyzer_info()
        reconciled, errors = reconcile_config(info, file_config)
        if errors:
            return errors
        req = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, props) in reconciled.items():
            req.policyConfig[name].CopyFrom(
                analyzer_pb2.PolicyConfig(enforcementLevel=LEVEL_VALUES[level], properties=to_struct(props))
            )
        self.stub.Configure(req, timeout=self.timeout)
        return []

    def configure_stack(self) -> None:
        self.stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=self.stack,
                project=self.project,
                organization="organization",
                dry_run=self.dry_run,
                config=self.stack_config,
            ),
            timeout=self.timeout,
        )

    def start(self, file_config: Mapping[str, Any] | None = None) -> PolicyPackProcess:
        """The engine's opening sequence."""
        self.handshake()
        self.analyzer_info()
        self.plugin_info()
        errors = self.configure(file_config)
        if errors:
            raise ValueError("policy pack config rejected: " + "; ".join(errors))
        self.configure_stack()
        return self

    def analyze(self, request: analyzer_pb2.AnalyzeRequest) -> list[Diagnostic]:
        resp = self.stub.Analyze(request, timeout=self.timeout)
        return [_diag(d, "analyze") for d in resp.diagnostics]

    def analyze_stack(self, request: analyzer_pb2.AnalyzeStackRequest) -> list[Diagnostic]:
        resp = self.stub.AnalyzeStack(request, timeout=self.timeout)
        return [_diag(d, "stack") for d in resp.diagnostics]

    def run(self, encoded: EncodedStack) -> Verdict:
        """What a preview/update does: Analyze each resource, then AnalyzeStack."""
        verdict = Verdict()
        for req in encoded.analyze:
            verdict.diagnostics.extend(self.analyze(req))
        verdict.diagnostics.extend(self.analyze_stack(encoded.stack))
        return verdict


def _diag(d: analyzer_pb2.AnalyzeDiagnostic, phase: str) -> Diagnostic:
    return Diagnostic(
        policy=d.policyName, urn=d.urn, message=d.message, level=LEVELS[d.enforcementLevel], phase=phase
    )


def stack_config_for_engine(captured: CapturedStack) -> dict[str, str]:
    return dict(captured.config)


def evaluate(
    captured: CapturedStack,
    *,
    file_config: Mapping[str, Any] | None = None,
    all_secret: bool = False,
    pack: PolicyPackProcess | None = None,
) -> Verdict:
    """Starts a pack for this stack (or reuses `pack`, reconfigured), and runs one preview/update."""
    encoded = encode(captured, all_secret=all_secret)
    if pack is not None:
        pack.stack, pack.project, pack.stack_config, pack.dry_run = (
            captured.stack,
            captured.project,
            stack_config_for_engine(captured),
            captured.preview,
        )
        pack.configure(file_config)
        pack.configure_stack()
        return pack.run(encoded)
    with PolicyPackProcess(
        stack=captured.stack,
        project=captured.project,
        stack_config=stack_config_for_engine(captured),
        dry_run=captured.preview,
    ) as fresh:
        fresh.start(file_config)
        return fresh.run(encoded)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


__all__ = [
    "CapturedStack",
    "Diagnostic",
    "PolicyPackProcess",
    "Verdict",
    "b64",
    "capture",
    "encode",
    "evaluate",
    "load_stack_config",
]


def iter_policies(info: analyzer_pb2.AnalyzerInfo) -> Iterable[str]:
    return [p.name for p in info.policies]
