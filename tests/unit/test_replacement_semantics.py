"""What `pulumi up` would replace when an operator changes the stack routinely, with the real
providers' replacement rules (PROVIDER_REPLACEMENT in tests/support/acting_mocks/replacement.py,
read from their sources): the program runs twice under the mock runtime, through the acting mocks'
bookkeeping, with executors that compute outputs instead of acting (a replaced resource gets new
ids and new computed values, as it would for real, so its dependents see the change).

Nothing here acts on a host. The invariants: no docker.Volume and no LUKS command is ever
replaced by a routine change, and no Command with a delete program is replaced (the old half's
delete would undo what its replacement just did); an update never re-runs a re-encryption."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest

from tests.support.acting_mocks.engine import ActingMocks, RunReport, default_executors
from tests.support.acting_mocks.executor import Context, Executor, Recorded, Request
from tests.support.acting_mocks.inputs import UnhonouredInput
from tests.support.acting_mocks.monitor import deploy
from tests.support.acting_mocks.replacement import (
    FORCE_NEW,
    IN_PLACE,
    PROVIDER_REPLACEMENT,
    Block,
    replacing_inputs,
)
from tests.support.apply_harness import RemoteCommandExecutor, SshDockerProviderExecutor
from tests.support.edgelab.pki import chain_of, make_ca, make_leaf
from tests.support.program_runner import ProgramRun, load_stack_config

pytestmark = pytest.mark.unit

VOLUME = "docker:index/volume:Volume"
CONTAINER = "docker:index/container:Container"
COMMANDS = ("command:local:Command", "command:remote:Command")


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def computed_outputs(type_: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What the provider computes at create: new random values and ids for a new resource."""
    fresh = secrets.token_hex(16)
    if type_ == "docker:index/remoteImage:RemoteImage":
        image_id = "sha256:" + _hex(inputs["name"])  # an image id is its content's digest
        return {"imageId": image_id, "repoDigest": ""}
    if type_ == "random:index/randomPassword:RandomPassword":
        return {"result": fresh}
    if type_ == "tls:index/privateKey:PrivateKey":
        return {"privateKeyPem": f"private {fresh}", "publicKeyPem": f"public {fresh}"}
    if type_ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
        return {"certPem": f"certificate {fresh}"}
    if type_ == "tls:index/certRequest:CertRequest":
        return {"certRequestPem": f"request {fresh}"}
    if type_ in COMMANDS:
        return {"stdout": "", "stderr": ""}
    if type_ == "docker:index/secret:Secret":
        return {"name": inputs.get("name") or f"secret-{fresh[:7]}"}
    return {}


class PlanningExecutor(Executor):
    """The real executor's fields and replacement rules; create/update/delete only compute."""

    def __init__(self, real: Executor) -> None:
        self.real = real
        self.type = real.type
        self.fields = real.fields

    @property
    def replace_on(self) -> Mapping[str, Any]:
        return self.real.replace_on

    @property
    def delete_before_replace(self) -> bool:
        return self.real.delete_before_replace

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        return f"{req.name}-{uuid.uuid4().hex[:8]}", {**req.inputs, **computed_outputs(req.type, req.inputs)}

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        return previous.id, {**previous.outputs, **req.inputs}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        return None


def planning_mocks(workdir: Path) -> ActingMocks:
    executors = default_executors()
    for real in (RemoteCommandExecutor(workdir), SshDockerProviderExecutor(workdir)):
        executors[real.type] = real
    planned = {t: PlanningExecutor(e) for t, e in executors.items()}
    return ActingMocks(Context(image_map={}, command_prefix=[]), planned)


@dataclass
class Outcome:
    run: ProgramRun
    report: RunReport

    def names(self, urns: list[str]) -> set[str]:
        by_urn = self.run.by_urn()
        return {by_urn[u].name if u in by_urn else u.rsplit("::", 1)[1] for u in urns}

    @property
    def replaced(self) -> set[str]:
        return self.names(self.report.replaced)

    @property
    def updated(self) -> set[str]:
        return self.names(self.report.updated)

    @property
    def created(self) -> set[str]:
        return self.names(self.report.created)

    @property
    def deleted(self) -> set[str]:
        return set(self.report.deleted)


def mark_for_replacement(mocks: ActingMocks, name: str) -> None:
    """What `pulumi up --replace <urn>` does to one resource: the engine replaces it whatever its
    inputs (here: its recorded provider reference no longer matches, which replaces it)."""
    [urn] = [u for u, r in mocks.state.items() if r.request.name == name]
    recorded = mocks.state[urn]
    mocks.state[urn] = Recorded(
        dataclasses.replace(recorded.request, provider="pulumi up --replace"), recorded.id, recorded.outputs
    )


# --- the stacks -------------------------------------------------------------------------------

DIGEST = "@sha256:" + "1" * 64
SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nfirst-deploy-key\n-----END OPENSSH PRIVATE KEY-----"
ROTATED_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecond-deploy-key\n-----END OPENSSH PRIVATE KEY-----"
WEBAPP_IMAGE = "ghcr.io/open-webui/open-webui:v0.6.5"


def dev() -> dict[str, Any]:
    return load_stack_config("dev")


def prod() -> dict[str, Any]:
    """Pulumi.prod.yaml with the services its comments name (digest-pinned) and one route."""
    config = load_stack_config("prod")
    config["services"] = {
        "app-db": {"image": "docker.io/library/postgres:16.4-alpine" + DIGEST},
        "vector-store": {"image": "docker.io/qdrant/qdrant:v1.11.3-unprivileged" + DIGEST},
        "ingestion": {"image": "docker.io/apache/tika:2.9.2.1" + DIGEST},
        "llm-gateway": {
            "image": "ghcr.io/berriai/litellm:main-v1.65.4-stable" + DIGEST,
            "endpoints": ["https://api.swiss-llm.example/v1"],
        },
        "webapp": {"image": WEBAPP_IMAGE + DIGEST},
        "observability": {"image": "docker.io/otel/opentelemetry-collector-contrib:0.111.0" + DIGEST},
    }
    config["edge"]["image"] = {"digest": "sha256:" + "2" * 64}
    config["edge"]["routes"] = {"webapp": {"host": "app.example.org", "service": "webapp", "port": 8080}}
    return config


PROD_SECRETS = {"sshPrivateKey": SSH_KEY}


def custom_tls(config: dict[str, Any], issuer_name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The dev stack with the edge on a custom chain and key (a fresh PKI per call)."""
    root = make_ca(f"{issuer_name} Root")
    intermediate = make_ca(f"{issuer_name} Intermediate", issuer=root)
    hosts = sorted({route["host"] for route in config["edge"]["routes"].values()})
    leaf = make_leaf(intermediate, hosts)
    config = copy.deepcopy(config)
    config["edge"]["certificates"] = {"mode": "custom", "chain": chain_of(leaf, intermediate)}
    return config, {"edgeTlsPrivateKey": leaf.key_pem}


# --- the routine changes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One routine operator change: the config (and secrets) before and after."""

    stack: str
    before: Callable[[], tuple[dict[str, Any], dict[str, str]]]
    after: Callable[[dict[str, Any], dict[str, str]], tuple[dict[str, Any], dict[str, str]]]
    replace: tuple[str, ...] = ()  # resources the operator replaces on purpose (`up --replace`)


def _edit(edit: Callable[[dict[str, Any]], None]) -> Callable[..., tuple[dict[str, Any], dict[str, str]]]:
    def after(config: dict[str, Any], stack_secrets: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        config = copy.deepcopy(config)
        edit(config)
        return config, dict(stack_secrets)

    return after


def _dev() -> tuple[dict[str, Any], dict[str, str]]:
    return dev(), {}


def _prod() -> tuple[dict[str, Any], dict[str, str]]:
    return prod(), dict(PROD_SECRETS)


def _prod_manual() -> tuple[dict[str, Any], dict[str, str]]:
    config = prod()
    config["encryption"] = {"unlockAtBoot": "manual"}
    return config, dict(PROD_SECRETS)


def _prod_reencrypted() -> tuple[dict[str, Any], dict[str, str]]:
    config = prod()
    config["encryption"]["reencryptGeneration"] = 1
    return config, dict(PROD_SECRETS)


SWARM_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6b0ETJTxVgcNvE2Sw4V1bXbvo8VkD2q0m9bVvT0m3a"


def _swarm() -> tuple[dict[str, Any], dict[str, str]]:
    """The dev services on a two-node Swarm over SSH, the edge routing to the web app."""

    def node(address: str, role: str) -> dict[str, Any]:
        host = {
            "mode": "ssh",
            "address": address,
            "hostKey": SWARM_HOST_KEY,
            "user": "deploy",
            "become": True,
        }
        return {"role": role, "engineVersion": "24.0.7", "host": host}

    config = dev()
    config["edge"] = {"routes": {"app": {"host": "app.example.test", "service": "webapp", "port": 8080}}}
    config["swarm"] = {
        "enabled": True,
        "manager": "node-a",
        "nodes": {"node-a": node("192.0.2.11", "manager"), "node-b": node("192.0.2.12", "worker")},
        "volumeNodes": {"app-db": "node-b", "vector-store": "node-b"},
    }
    return config, dict(PROD_SECRETS)


def _dev_custom_tls() -> tuple[dict[str, Any], dict[str, str]]:
    return custom_tls(dev(), "First")


def _rotate_custom_tls(config: dict[str, Any], _: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    return custom_tls(config, "Second")


def _rotate_ssh_key(
    config: dict[str, Any], stack_secrets: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    return copy.deepcopy(config), {**stack_secrets, "sshPrivateKey": ROTATED_SSH_KEY}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value

    return edit


def _new_tang_thumbprint(config: dict[str, Any]) -> None:
    config["encryption"]["tang"]["servers"][0]["thumbprint"] = "Z" * 43


def _add_route(config: dict[str, Any]) -> None:
    config["edge"]["routes"]["gateway"] = {
        "host": "app.platform.localhost",
        "path": "/gateway",
        "service": "llm-gateway",
        "port": 4000,
    }


def _add_host(config: dict[str, Any]) -> None:
    config["edge"]["routes"]["chat"] = {"host": "chat.platform.localhost", "service": "webapp", "port": 8080}


CHANGES: dict[str, Change] = {
    "dev: a service image changes": Change(
        "dev", _dev, _edit(_set("services.webapp", {"image": "ghcr.io/open-webui/open-webui:v0.6.6"}))
    ),
    "prod: a service image digest changes": Change(
        "prod", _prod, _edit(_set("services.webapp", {"image": WEBAPP_IMAGE + "@sha256:" + "3" * 64}))
    ),
    "dev: a service healthcheck changes": Change(
        "dev",
        _dev,
        _edit(_set("services.webapp", {"healthcheck": {"test": ["CMD", "true"], "interval": 60}})),
    ),
    "dev: a service volume is mounted at another path": Change(
        "dev", _dev, _edit(_set("services.webapp", {"volumes": {"documents": "/data"}}))
    ),
    "dev: a route to another service is added": Change("dev", _dev, _edit(_add_route)),
    "dev: a route on a new host name is added": Change("dev", _dev, _edit(_add_host)),
    "dev: the custom edge certificate and key are rotated": Change(
        "dev", _dev_custom_tls, _rotate_custom_tls
    ),
    "dev: a service secret is rotated (up --replace)": Change(
        "dev", _dev, _edit(lambda config: None), replace=("secret-app-db-password",)
    ),
    "dev: keyVersion + 1": Change("dev", _dev, _edit(_set("encryption.keyVersion", 2))),
    "prod: keyVersion + 1": Change("prod", _prod, _edit(_set("encryption.keyVersion", 2))),
    "dev: unlockAtBoot crypttab -> manual": Change(
        "dev", _dev, _edit(_set("encryption.unlockAtBoot", "manual"))
    ),
    "prod: unlockAtBoot tang -> crypttab": Change(
        "prod", _prod, _edit(_set("encryption.unlockAtBoot", "crypttab"))
    ),
    "prod: unlockAtBoot tang -> manual": Change(
        "prod", _prod, _edit(_set("encryption.unlockAtBoot", "manual"))
    ),
    "prod: a Tang server's thumbprint changes": Change("prod", _prod, _edit(_new_tang_thumbprint)),
    "dev: a second run, nothing changed": Change("dev", _dev, _edit(lambda config: None)),
    "prod: a second run, nothing changed": Change("prod", _prod, _edit(lambda config: None)),
    "prod (manual unlock): a second run, nothing changed": Change(
        "prod", _prod_manual, _edit(lambda config: None)
    ),
    "dev: a volume is added": Change("dev", _dev, _edit(_set("volumes.scratch", {"size": "256MiB"}))),
    "prod: a volume is added": Change(
        "prod",
        _prod,
        _edit(_set("volumes.scratch", {"backing": "device", "device": "/dev/disk/by-id/virtio-scratch"})),
    ),
    "prod: the SSH deploy key is rotated": Change("prod", _prod, _rotate_ssh_key),
    "swarm: a service image changes": Change(
        "dev", _swarm, _edit(_set("services.webapp", {"image": "ghcr.io/open-webui/open-webui:v0.6.6"}))
    ),
    "swarm: a service secret is rotated (up --replace)": Change(
        "dev", _swarm, _edit(lambda config: None), replace=("secret-app-db-password",)
    ),
    "swarm: the SSH deploy key is rotated": Change("dev", _swarm, _rotate_ssh_key),
    "prod (re-encrypted once): keyVersion + 1": Change(
        "prod", _prod_reencrypted, _edit(_set("encryption.keyVersion", 2))
    ),
    "prod (re-encrypted once): the SSH deploy key is rotated": Change(
        "prod", _prod_reencrypted, _rotate_ssh_key
    ),
    "prod: reencryptGeneration + 1": Change(
        "prod", _prod_reencrypted, _edit(_set("encryption.reencryptGeneration", 2))
    ),
}


# One operator HOME for every run: the Docker provider's sshOpts name the key file below it, so
# another HOME is another provider configuration (an update of the provider, nothing replaced).
OPERATOR_HOME = tempfile.mkdtemp(prefix="replacement-semantics-home-")


@cache
def first_run(
    stack: str, before: Callable[[], tuple[dict[str, Any], dict[str, str]]]
) -> tuple[dict[str, Any], dict[str, str], dict[str, Recorded], list[str]]:
    """The first `pulumi up` of a stack (shared by the changes that start from it): its config
    and the state it leaves."""
    config, stack_secrets = before()
    with _home(OPERATOR_HOME):
        mocks = planning_mocks(Path(OPERATOR_HOME))
        deploy(mocks, config=config, secret_config=stack_secrets, stack=stack)
    return config, stack_secrets, mocks.state, mocks.order


@cache
def outcome_of(title: str) -> Outcome:
    change = CHANGES[title]
    before, secrets_before, state, order = first_run(change.stack, change.before)
    after, secrets_after = change.after(copy.deepcopy(before), dict(secrets_before))
    with _home(OPERATOR_HOME):
        mocks = planning_mocks(Path(OPERATOR_HOME))
        mocks.state, mocks.order = copy.deepcopy(state), list(order)
        for name in change.replace:
            mark_for_replacement(mocks, name)
        run, report = deploy(mocks, config=after, secret_config=secrets_after, stack=change.stack)
    return Outcome(run, report)


@pytest.fixture(scope="module", autouse=True)
def _remove_operator_home() -> Iterator[None]:
    yield
    shutil.rmtree(OPERATOR_HOME, ignore_errors=True)


@contextlib.contextmanager
def _home(path: str) -> Iterator[None]:
    """ssh mode writes the Docker CLI's copy of the key below $HOME: keep it in a scratch home."""
    saved = os.environ.get("HOME")
    os.environ["HOME"] = path
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = saved


# What each change replaces under the real providers' rules (and why):
EXPECTED_REPLACEMENTS: dict[str, set[str]] = {
    # image name ForceNew -> new imageId -> container image ForceNew; the PID limit's trigger is
    # the container id.
    "dev: a service image changes": {"webapp-image", "webapp", "webapp-pids-limit"},
    "prod: a service image digest changes": {"webapp-image", "webapp", "webapp-pids-limit"},
    # The provider's update would record a new healthcheck or mount but not apply it (it only
    # runs `docker update`): the program asks the engine to replace on these (replaceOnChanges).
    "dev: a service healthcheck changes": {"webapp", "webapp-pids-limit"},
    "dev: a service volume is mounted at another path": {"webapp", "webapp-pids-limit"},
    # The edge joins a new link network and carries the configuration digest as a label; the
    # gateway joins the same new network (networksAdvanced count).
    "dev: a route to another service is added": {
        "edge",
        "edge-pids-limit",
        "llm-gateway",
        "llm-gateway-pids-limit",
    },
    # A new host name is a new SAN of the dev leaf (dnsNames RequiresReplace).
    "dev: a route on a new host name is added": {"edge", "edge-pids-limit", "edge-dev-csr", "edge-dev-leaf"},
    # The certificate is configuration (digest label); the key file is updated in place.
    "dev: the custom edge certificate and key are rotated": {"edge", "edge-pids-limit"},
    "dev: a service secret is rotated (up --replace)": {"secret-app-db-password"},
    "dev: keyVersion + 1": set(),
    "prod: keyVersion + 1": set(),
    "dev: unlockAtBoot crypttab -> manual": set(),
    "prod: unlockAtBoot tang -> crypttab": set(),
    "prod: unlockAtBoot tang -> manual": set(),
    "prod: a Tang server's thumbprint changes": set(),
    "dev: a second run, nothing changed": set(),
    "prod: a second run, nothing changed": set(),
    "prod (manual unlock): a second run, nothing changed": set(),
    "dev: a volume is added": set(),
    "prod: a volume is added": set(),
    "prod: the SSH deploy key is rotated": set(),
    "swarm: a service image changes": set(),
    # A Swarm secret's data is ForceNew; it is auto-named, so the new one is created beside the
    # old one, the service switches to it (an update), and the old one is deleted at the end.
    "swarm: a service secret is rotated (up --replace)": {
        "secret-app-db-password",
        "swarm-secret-app-db-password",
    },
    "swarm: the SSH deploy key is rotated": set(),
    "prod (re-encrypted once): keyVersion + 1": set(),
    "prod (re-encrypted once): the SSH deploy key is rotated": set(),
    # The re-encryption command runs on a trigger change by design; it has no delete program.
    "prod: reencryptGeneration + 1": {
        f"{volume}-reencrypt" for volume in ("app-db", "vector-store", "documents", "config-secrets", "logs")
    },
}


def test_every_change_has_an_expectation() -> None:
    assert set(EXPECTED_REPLACEMENTS) == set(CHANGES)


@pytest.mark.parametrize("title", sorted(CHANGES))
def test_a_routine_change_replaces_what_it_must_and_never_a_volume_a_luks_command_or_a_delete(
    title: str,
) -> None:
    outcome = outcome_of(title)
    by_urn = outcome.run.by_urn()
    for urn in outcome.report.replaced:
        registration = by_urn[urn]
        assert registration.type != VOLUME, f"replaces docker.Volume {registration.name}"
        assert not registration.name.endswith("-luks"), f"replaces {registration.name}"
        if registration.type in COMMANDS:
            # The old half's delete runs after the new half's create and would undo it.
            assert not registration.plain("delete"), f"replaces {registration.name}, which has a delete"
        assert not registration.protect, f"the engine refuses to replace protected {registration.name}"
    assert not outcome.report.deleted, f"deletes {outcome.report.deleted}"
    assert outcome.replaced == EXPECTED_REPLACEMENTS[title]
    for urn in outcome.report.updated:
        registration = by_urn[urn]
        if registration.type in COMMANDS and registration.name.endswith("-reencrypt"):
            # An update runs `update`, else `create`: re-encrypting the whole volume again.
            ran = registration.plain("update") or registration.plain("create")
            assert "ep-luks-reencrypt-" not in ran, f"an update of {registration.name} re-encrypts again"


def test_the_unlock_step_of_manual_unlock_is_an_update_on_every_run() -> None:
    outcome = outcome_of("prod (manual unlock): a second run, nothing changed")
    luks = {r.name for r in outcome.run.of_type("command:remote:Command") if r.name.endswith("-luks")}
    assert luks and luks <= outcome.updated
    assert outcome.updated == luks


def test_with_network_bound_unlock_a_second_run_updates_nothing() -> None:
    # The host unlocks itself at boot; `pulumi up` need not re-run the converge step.
    outcome = outcome_of("prod: a second run, nothing changed")
    assert outcome.updated == set()


def test_a_rotated_deploy_key_updates_every_remote_command_and_replaces_none() -> None:
    outcome = outcome_of("prod: the SSH deploy key is rotated")
    commands = {r.name for r in outcome.run.of_type("command:remote:Command")}
    assert commands and outcome.updated == commands  # `connection` changed: each runs `update`


# --- the table itself -------------------------------------------------------------------------


def _uncovered(fields: Mapping[str, Any], rules: Mapping[str, Any], path: str = "") -> list[str]:
    missing = []
    for key, nested in fields.items():
        where = f"{path}.{key}" if path else key
        if key not in rules:
            missing.append(where)
        elif isinstance(rules[key], Block) and isinstance(nested, Mapping):
            missing += _uncovered(nested, rules[key].fields, where)
    return missing


def test_every_honoured_input_has_a_replacement_rule() -> None:
    executors = default_executors()
    executors["command:remote:Command"] = RemoteCommandExecutor(Path("/nonexistent"))
    executors["pulumi:providers:docker"] = SshDockerProviderExecutor(Path("/nonexistent"))
    assert set(executors) == set(PROVIDER_REPLACEMENT)
    for type_, executor in executors.items():
        assert _uncovered(executor.fields, executor.replace_on) == [], type_


def test_a_nested_block_replaces_on_its_count_and_its_own_force_new_fields_only() -> None:
    container = PROVIDER_REPLACEMENT[CONTAINER]
    volume_mount = {"type": "volume", "source": "a", "target": "/data"}
    tmpfs_mount = {"type": "tmpfs", "target": "/tmp", "tmpfsOptions": {"sizeBytes": 1, "mode": 448}}
    # Same count, no ForceNew field inside: the provider updates (and does not apply it).
    assert (
        replacing_inputs(container, {"mounts": [volume_mount]}, {"mounts": [{**volume_mount, "source": "b"}]})
        == []
    )
    # A tmpfs mount's options are a ForceNew block inside the element: changing it replaces.
    bigger = {**tmpfs_mount, "tmpfsOptions": {"sizeBytes": 2, "mode": 448}}
    assert replacing_inputs(container, {"mounts": [tmpfs_mount]}, {"mounts": [bigger]}) == ["mounts"]
    # One more mount: the count of a ForceNew block changed.
    assert replacing_inputs(
        container, {"mounts": [volume_mount]}, {"mounts": [volume_mount, tmpfs_mount]}
    ) == ["mounts"]
    # A set is compared by value: the same elements in another order are no change.
    assert (
        replacing_inputs(
            container, {"mounts": [volume_mount, tmpfs_mount]}, {"mounts": [tmpfs_mount, volume_mount]}
        )
        == []
    )


def test_labels_replace_docker_objects_but_not_a_swarm_service() -> None:
    old = {"labels": [{"label": "a", "value": "1"}]}
    new = {"labels": [{"label": "a", "value": "2"}]}
    for type_ in (VOLUME, CONTAINER, "docker:index/network:Network", "docker:index/secret:Secret"):
        assert replacing_inputs(PROVIDER_REPLACEMENT[type_], old, new) == ["labels"], type_
    assert replacing_inputs(PROVIDER_REPLACEMENT["docker:index/service:Service"], old, new) == []


def test_commands_replace_on_triggers_only() -> None:
    for type_ in COMMANDS:
        rules = PROVIDER_REPLACEMENT[type_]
        assert {k for k, rule in rules.items() if rule != IN_PLACE} == {"triggers"}
        assert rules["triggers"] == FORCE_NEW
        assert replacing_inputs(rules, {"create": "a", "stdin": "k1"}, {"create": "b", "stdin": "k2"}) == []
        assert replacing_inputs(rules, {"triggers": [1]}, {"triggers": [2]}) == ["triggers"]


def test_an_unknown_input_has_no_silent_default() -> None:
    with pytest.raises(UnhonouredInput, match="no replacement rule for input 'pidsLimit'"):
        replacing_inputs(PROVIDER_REPLACEMENT[CONTAINER], {}, {"pidsLimit": 10})


class _RecordingApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


def _container_update(
    old: dict[str, Any], new: dict[str, Any]
) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    from tests.support.acting_mocks.docker_resources import ContainerExecutor

    api = _RecordingApi()
    context = Context(image_map={}, command_prefix=[])
    context.clients["p"] = cast(Any, type("Client", (), {"api": api})())
    executor = ContainerExecutor()
    assert not executor.needs_replace(old, new)
    previous = Recorded(_request(CONTAINER, old), "c1", dict(old))
    assert executor.update(context, _request(CONTAINER, new), previous) == ("c1", {**old, **new})
    return api.calls


def _request(type_: str, inputs: dict[str, Any]) -> Request:
    return Request(f"urn:pulumi:s::p::{type_}::x", type_, "x", inputs, "p", "", [], False)


def test_a_container_update_applies_only_what_docker_update_can() -> None:
    base = {"name": "c", "memory": 256, "memorySwap": 256, "restart": "unless-stopped"}
    # A healthcheck or tmpfs change is an update the provider does not apply to the container.
    assert _container_update(base, {**base, "healthcheck": {"tests": ["CMD", "true"]}}) == []
    [(method, args, kwargs)] = _container_update(base, {**base, "memory": 512, "memorySwap": 512})
    assert (method, args) == ("update_container", ("c1",))
    assert kwargs == {
        "restart_policy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
        "mem_limit": 512 * 1024 * 1024,
        "memswap_limit": 512 * 1024 * 1024,
    }


def test_replace_on_changes_is_matched_as_the_engine_matches_it() -> None:
    from tests.support.acting_mocks.replacement import replaced_on_request as replaced

    assert replaced(
        ("healthcheck",), {"healthcheck": {"interval": "10s"}}, {"healthcheck": {"interval": "60s"}}
    )
    assert replaced(("healthcheck",), {}, {"healthcheck": {"interval": "60s"}})
    assert not replaced(("healthcheck",), {"memory": 1}, {"memory": 2})
    # "triggers[*]" contains an element's change, not the whole list appearing.
    assert replaced(("triggers[*]",), {"triggers": [1]}, {"triggers": [2]})
    assert not replaced(("triggers[*]",), {}, {"triggers": [2]})
    assert replaced(("*",), {"memory": 1}, {"memory": 2})
    with pytest.raises(UnhonouredInput, match="is not honoured"):
        replaced(("mounts[0].source",), {}, {})
