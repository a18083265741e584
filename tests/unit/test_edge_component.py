"""TraefikEdge wiring under the SDK mock runtime: what the engine (and the policy pack) would
receive. Behaviour is proven against the real Traefik in tests/edge/; this checks wiring only."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.at_rest.encrypted_volume import EncryptedVolume, EncryptedVolumeArgs
from components.host import DockerHost
from components.in_transit.edge import (
    CONFIG_DIGEST_LABEL,
    ROLE_LABEL,
    TraefikEdge,
    TraefikEdgeArgs,
    config_digest,
)
from components.in_transit.traefik_config import TraefikLayout, render_files
from components.settings import EncryptionSettings, HostSettings, SettingsError, VolumeSettings
from components.settings.edge import EdgeSettings
from tests.support.edgelab.pki import make_pki
from tests.support.program_runner import (
    ProgramRun,
    RealisticMocks,
    Registration,
    is_secret,
    reveal,
    run_program,
)

CONTAINER = "docker:index/container:Container"
COMMAND_TYPES = {"command:local:Command", "command:remote:Command"}
ROUTES = {
    "app": {"host": "app.example.test", "service": "webui", "port": 8080},
    "events": {"host": "app.example.test", "path": "/ws", "service": "api", "port": 8000, "websocket": True},
}
WEBSOCKET = {
    "allowedOrigins": ["https://app.example.test"],
    "auth": {"service": "api", "port": 8000, "path": "/auth"},
}
BACKENDS = {"webui": "webui.internal", "api": "api.internal"}


def edge_settings(**overrides: Any) -> EdgeSettings:
    raw: dict[str, Any] = {"routes": ROUTES, "websocket": WEBSOCKET}
    raw.update(overrides)
    return EdgeSettings.model_validate(raw)


def deploy(
    settings: EdgeSettings,
    *,
    environment: str = "dev",
    tls_private_key: str | None = None,
    backend_hosts: dict[str, str] | None = None,
) -> ProgramRun:
    captured = CAPTURED
    captured.clear()

    def program() -> None:
        host = DockerHost("host", HostSettings(), project="encrypted-platform", stack="dev")
        volumes = {
            name: EncryptedVolume(
                name,
                EncryptedVolumeArgs(
                    host=host,
                    volume=VolumeSettings(),
                    encryption=EncryptionSettings(),
                    project="encrypted-platform",
                    stack="dev",
                ),
            )
            for name in ("config-secrets", "logs")
        }
        captured["edge"] = TraefikEdge(
            "edge",
            TraefikEdgeArgs(
                host=host,
                settings=settings,
                environment=environment,
                backend_hosts=BACKENDS if backend_hosts is None else backend_hosts,
                ingress_network="encrypted-platform-ingress",
                networks=["encrypted-platform-frontend"],
                secrets_volume=volumes["config-secrets"],
                logs_volume=volumes["logs"],
                tls_private_key=tls_private_key,
            ),
        )

    return run_program(program, mocks=TlsOutputMocks())


CAPTURED: dict[str, Any] = {}


class TlsOutputMocks(RealisticMocks):
    """Adds the computed outputs pulumi-tls returns (placeholder PEM text: wiring only)."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        if args.typ == "tls:index/privateKey:PrivateKey":
            outputs["privateKeyPem"] = (
                f"-----BEGIN PRIVATE KEY-----\nmock-{args.name}\n-----END PRIVATE KEY-----\n"
            )
        if args.typ in (
            "tls:index/selfSignedCert:SelfSignedCert",
            "tls:index/locallySignedCert:LocallySignedCert",
        ):
            outputs["certPem"] = f"-----BEGIN CERTIFICATE-----\nmock-{args.name}\n-----END CERTIFICATE-----\n"
        if args.typ == "tls:index/certRequest:CertRequest":
            outputs["certRequestPem"] = (
                "-----BEGIN CERTIFICATE REQUEST-----\nmock\n-----END CERTIFICATE REQUEST-----\n"
            )
        return resource_id, outputs


def container(run: ProgramRun) -> Registration:
    found = run.of_type(CONTAINER)
    assert len(found) == 1
    return found[0]


def script_of(command: Registration) -> str:
    argv = shlex.split(command.plain("create"))
    if argv[:2] == ["sudo", "-n"]:
        argv = argv[2:]
    return argv[2]


def parameter(script: str, name: str) -> str:
    match = re.search(rf"^{name}='([^']*)'$", script, re.MULTILINE)
    assert match, name
    return match.group(1)


def config_commands(run: ProgramRun) -> dict[str, Registration]:
    """Container path -> the host Command that writes that configuration file."""
    found = {}
    for r in run.registrations:
        if r.type in COMMAND_TYPES and r.name.startswith("edge-config-"):
            relative = parameter(script_of(r), "EP_RELATIVE_PATH")
            found["/etc/traefik/" + relative.removeprefix("edge-config/")] = r
    return found


def config_files(run: ProgramRun) -> dict[str, str | None]:
    return {path: c.inputs.get("stdin") for path, c in config_commands(run).items()}


def test_configuration_files_are_exactly_the_rendered_configuration_in_plain_view() -> None:
    settings = edge_settings()
    run = deploy(settings)
    layout = TraefikLayout(backend_hosts=BACKENDS)
    commands = config_commands(run)
    for path, content in render_files(settings, layout).items():
        command = commands[path]
        assert command.inputs["stdin"] == content and not is_secret(command.inputs["stdin"])
        script = script_of(command)
        assert parameter(script, "EP_BASE_DIR") == "/srv/encrypted/config-secrets/binds"
        assert (parameter(script, "EP_OWNER"), parameter(script, "EP_MODE")) == ("0:0", "0444")
    static = yaml.safe_load(commands["/etc/traefik/traefik.yml"].inputs["stdin"])
    assert static["providers"] == {"file": {"directory": "/etc/traefik/dynamic", "watch": False}}
    assert container(run).plain("command") == ["traefik", "--configFile=/etc/traefik/traefik.yml"]
    assert not container(run).plain("uploads")  # Docker refuses uploads into a read-only root filesystem


def test_a_digest_of_the_configuration_labels_the_container(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, ["app.example.test"])
    settings = edge_settings(certificates={"mode": "custom", "chain": pki.chain_pem})
    run = deploy(settings, tls_private_key=pki.leaf.key_pem)
    files = {p: str(c) for p, c in config_files(run).items()}
    assert set(files) == {
        "/etc/traefik/traefik.yml",
        "/etc/traefik/dynamic/edge.yml",
        "/etc/traefik/certs/edge.crt",
    }
    labels = {entry["label"]: entry["value"] for entry in container(run).plain("labels")}
    assert labels[CONFIG_DIGEST_LABEL] == config_digest(files)
    other = deploy(
        edge_settings(certificates={"mode": "custom", "chain": pki.chain_pem}, logLevel="WARN"),
        tls_private_key=pki.leaf.key_pem,
    )
    other_labels = {entry["label"]: entry["value"] for entry in container(other).plain("labels")}
    assert other_labels[CONFIG_DIGEST_LABEL] != labels[CONFIG_DIGEST_LABEL]


def test_container_is_hardened() -> None:
    run = deploy(edge_settings())
    c = container(run)
    assert c.plain("name") == "encrypted-platform-edge"
    assert c.plain("readOnly") is True
    assert c.plain("capabilities") == {"drops": ["ALL"], "adds": ["CAP_NET_BIND_SERVICE"]}
    assert c.plain("securityOpts") == ["no-new-privileges:true"]
    assert c.plain("user") == "65532:65532"  # unprivileged by default
    assert c.plain("restart") == "unless-stopped"
    assert not c.plain("envs")
    assert c.plain("tmpfs") == {"/tmp": "rw,noexec,nosuid,nodev,size=16m"}
    assert c.plain("healthcheck")["tests"] == [
        "CMD",
        "traefik",
        "healthcheck",
        "--configFile=/etc/traefik/traefik.yml",
    ]
    assert not c.plain("privileged")
    assert (c.plain("memory"), c.plain("memorySwap")) == (512, 512)
    assert not c.plain("volumes")  # no bind mounts, in particular no Docker socket


def test_only_80_and_443_are_published_and_only_the_given_networks_joined() -> None:
    c = container(deploy(edge_settings(ports={"http": 8080, "https": 8443})))
    assert sorted((p["internal"], p["external"]) for p in c.plain("ports")) == [(80, 8080), (443, 8443)]
    # Created on the ingress network (where Docker publishes ports), then joined to the internal ones.
    assert c.plain("networkMode") == "encrypted-platform-ingress"
    assert [n["name"] for n in c.plain("networksAdvanced")] == ["encrypted-platform-frontend"]


def test_mounts_bind_only_the_edges_own_directories_of_the_encrypted_volumes() -> None:
    run = deploy(edge_settings())
    c = container(run)
    assert sorted((m["source"], m["target"], bool(m.get("readOnly"))) for m in c.plain("mounts")) == [
        ("encrypted-platform-edge-config", "/etc/traefik", True),
        ("encrypted-platform-edge-logs", "/var/log/traefik", False),
        ("encrypted-platform-edge-state", "/var/lib/traefik", False),
        # The dev key: root-owned directory, read-only over the state directory's tls/.
        ("encrypted-platform-edge-tls", "/var/lib/traefik/tls", True),
    ]
    volumes = {v.plain("name"): v for v in run.of_type("docker:index/volume:Volume")}
    devices = {
        name: volumes[name].plain("driverOpts")
        for name in volumes
        if name.startswith("encrypted-platform-edge-")
    }
    assert devices == {
        "encrypted-platform-edge-config": {
            "type": "none",
            "o": "bind",
            "device": "/srv/encrypted/config-secrets/binds/edge-config",
        },
        "encrypted-platform-edge-state": {
            "type": "none",
            "o": "bind",
            "device": "/srv/encrypted/config-secrets/binds/edge-state",
        },
        "encrypted-platform-edge-tls": {
            "type": "none",
            "o": "bind",
            "device": "/srv/encrypted/config-secrets/binds/edge-tls",
        },
        "encrypted-platform-edge-logs": {
            "type": "none",
            "o": "bind",
            "device": "/srv/encrypted/logs/binds/edge",
        },
    }
    # Each binds only after its LUKS filesystem is mounted and its directory written.
    luks = {r.name: r.urn for r in run.registrations if r.name.endswith("-luks")}
    config = volumes["encrypted-platform-edge-config"]
    assert luks["config-secrets-luks"] in config.dependencies
    assert {c.urn for c in config_commands(run).values()} <= set(config.dependencies)
    assert luks["logs-luks"] in volumes["encrypted-platform-edge-logs"].dependencies
    for name in (
        "encrypted-platform-edge-config",
        "encrypted-platform-edge-state",
        "encrypted-platform-edge-logs",
        "encrypted-platform-edge-tls",
    ):
        assert volumes[name].urn in c.dependencies


def test_private_directories_belong_to_the_edge_user() -> None:
    run = deploy(edge_settings(user="65532:65532"))
    directories = {
        r.name: script_of(r)
        for r in run.registrations
        if r.name in ("edge-state-dir-install", "edge-logs-dir-install")
    }
    assert set(directories) == {"edge-state-dir-install", "edge-logs-dir-install"}
    for script in directories.values():
        assert (parameter(script, "EP_OWNER"), parameter(script, "EP_DIR_MODE")) == ("65532:65532", "0700")
    assert parameter(directories["edge-state-dir-install"], "EP_RELATIVE_PATH") == "edge-state"
    # Below the logs volume's root-owned binds directory, not its data directory (which the
    # observability service owns and could otherwise swap for a symlink).
    assert parameter(directories["edge-logs-dir-install"], "EP_BASE_DIR") == "/srv/encrypted/logs/binds"


def test_labels_state_role_image_and_tls_facts() -> None:
    c = container(deploy(edge_settings(tls={"profile": "modern"})))
    labels = {entry["label"]: entry["value"] for entry in c.plain("labels")}
    assert re.fullmatch(r"[0-9a-f]{64}", labels.pop(CONFIG_DIGEST_LABEL))
    assert labels == {
        ROLE_LABEL: "edge",
        "encrypted-platform.image": "traefik:v3.7.15",
        "encrypted-platform.tls.profile": "modern",
        "encrypted-platform.tls.min-version": "1.3",
        "encrypted-platform.certificates.mode": "dev",
    }


def test_image_is_pulled_by_its_pinned_reference() -> None:
    digest = "sha256:" + "ab" * 32
    acme = {"mode": "acme", "acme": {"email": "ops@example.test"}}
    run = deploy(edge_settings(image={"digest": digest}, certificates=acme), environment="prod")
    [image] = run.of_type("docker:index/remoteImage:RemoteImage")
    assert image.plain("name") == f"traefik:v3.7.15@{digest}"
    assert image.urn in container(run).dependencies


def test_custom_key_travels_only_on_stdin_of_a_host_command(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, ["app.example.test"])
    settings = edge_settings(certificates={"mode": "custom", "chain": pki.chain_pem})
    run = deploy(settings, tls_private_key=pki.leaf.key_pem)
    [command] = [r for r in run.registrations if r.type in COMMAND_TYPES and r.name == "edge-tls-key-install"]
    assert is_secret(command.inputs["stdin"])
    assert reveal(command.inputs["stdin"]) == pki.leaf.key_pem
    marker = pki.leaf.key_pem.splitlines()[1]
    assert marker not in command.plain("create") and marker not in command.plain("delete")
    script = script_of(command)
    assert parameter(script, "EP_BASE_DIR") == "/srv/encrypted/config-secrets/binds"
    assert parameter(script, "EP_MODE") == "0400"
    # A root-owned directory the edge only reads: root never writes into the edge's own state.
    assert parameter(script, "EP_RELATIVE_PATH") == "edge-tls/edge.key"
    assert (parameter(script, "EP_DIR_OWNER"), parameter(script, "EP_DIR_MODE")) == ("0:0", "0755")
    assert config_files(run)["/etc/traefik/certs/edge.crt"] == pki.chain_pem
    for registration in run.registrations:
        if registration is not command:
            assert marker not in str(reveal(registration.inputs)), registration.name
    # The key directory's volume (and so the container) waits for the key file.
    assert run.by_name("edge-tls-key").type == "encrypted-platform:storage:SecretFile"
    [key_volume] = [v for v in run.of_type("docker:index/volume:Volume") if v.name == "edge-tls"]
    assert command.urn in key_volume.dependencies and key_volume.urn in container(run).dependencies
    key_mounts = [m for m in container(run).plain("mounts") if m["target"] == "/var/lib/traefik/tls"]
    assert [(m["source"], m.get("readOnly")) for m in key_mounts] == [("encrypted-platform-edge-tls", True)]


def test_dev_mode_makes_a_local_ca_and_a_leaf_for_every_host() -> None:
    run = deploy(
        edge_settings(
            routes={**ROUTES, "admin": {"host": "admin.example.test", "service": "webui", "port": 8080}}
        )
    )
    keys = run.of_type("tls:index/privateKey:PrivateKey")
    assert sorted(k.name for k in keys) == ["edge-dev-ca-key", "edge-dev-leaf-key"]
    assert all((k.plain("algorithm"), k.plain("ecdsaCurve")) == ("ECDSA", "P256") for k in keys)
    [ca] = run.of_type("tls:index/selfSignedCert:SelfSignedCert")
    assert ca.plain("isCaCertificate") is True
    [request] = run.of_type("tls:index/certRequest:CertRequest")
    assert request.plain("dnsNames") == ["admin.example.test", "app.example.test"]
    [leaf] = run.of_type("tls:index/locallySignedCert:LocallySignedCert")
    assert "server_auth" in leaf.plain("allowedUses")
    [command] = [r for r in run.registrations if r.name == "edge-tls-key-install"]
    assert is_secret(command.inputs["stdin"])
    assert CAPTURED["edge"].ca_certificate is not None
    assert "/etc/traefik/certs/edge.crt" in config_files(run)


def test_acme_mode_needs_no_key_file_and_no_local_pki() -> None:
    run = deploy(edge_settings(certificates={"mode": "acme", "acme": {"email": "ops@example.test"}}))
    assert not [r for r in run.registrations if r.name.startswith("edge-tls-key")]
    assert not [r for r in run.registrations if r.type.startswith("tls:")]
    assert CAPTURED["edge"].ca_certificate is None
    static = yaml.safe_load(str(config_files(run)["/etc/traefik/traefik.yml"]))
    assert static["certificatesResolvers"]["acme"]["acme"]["storage"] == "/var/lib/traefik/acme.json"


def test_every_child_hangs_under_the_edge_and_docker_resources_use_the_hosts_provider() -> None:
    run = deploy(edge_settings())
    urns = run.by_urn()
    [edge] = run.of_type("encrypted-platform:edge:TraefikEdge")
    for registration in run.registrations:
        node, inside = registration, False
        while node.parent in urns:
            node = urns[node.parent]
            inside = inside or node is edge
        if registration.type.startswith(
            ("docker:index/container", "docker:index/remoteImage", "tls:")
        ) or registration.name.startswith("edge-tls-key"):
            assert inside, registration.name
        if registration.type in (CONTAINER, "docker:index/remoteImage:RemoteImage"):
            assert "host-docker" in registration.provider


def test_custom_mode_without_the_key_fails(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, ["app.example.test"])
    with pytest.raises(SettingsError) as error:
        deploy(edge_settings(certificates={"mode": "custom", "chain": pki.chain_pem}))
    assert error.value.problems[0].startswith("encrypted-platform:edgeTlsPrivateKey: required")


def test_non_root_user_owns_the_key() -> None:
    run = deploy(edge_settings(user="65532:65532"))
    assert container(run).plain("user") == "65532:65532"
    [command] = [r for r in run.registrations if r.name == "edge-tls-key-install"]
    assert parameter(script_of(command), "EP_OWNER") == "65532:65532"


def test_the_edge_gets_its_pid_limit_after_creation() -> None:
    run = deploy(edge_settings(pids=300))
    c = container(run)
    (limit,) = [r for r in run.registrations if r.name == "edge-pids-limit"]
    argv = shlex.split(limit.plain("create"))
    assert argv[-4:] == ["update", "--pids-limit", "300", c.plain("name")]
    assert c.urn in limit.dependencies
