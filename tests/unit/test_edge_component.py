"""TraefikEdge wiring under the SDK mock runtime: what the engine (and the policy pack) would
receive. Behaviour is proven against the real Traefik in tests/edge/; this checks wiring only."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.edge import ROLE_LABEL, TraefikEdge, TraefikEdgeArgs
from components.encrypted_volume import EncryptedVolume, EncryptedVolumeArgs
from components.host import DockerHost
from components.settings import EncryptionSettings, HostSettings, SettingsError, VolumeSettings
from components.settings.edge import EdgeSettings
from components.traefik_config import TraefikLayout, render_files
from tests.support.edgelab import make_pki
from tests.support.program_runner import ProgramRun, Registration, is_secret, reveal, run_program

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
    data_owner: str = "0:0",
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
                    volume=VolumeSettings(dataOwner=data_owner),
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

    return run_program(program)


CAPTURED: dict[str, Any] = {}


def container(run: ProgramRun) -> Registration:
    found = run.of_type(CONTAINER)
    assert len(found) == 1
    return found[0]


def uploads(run: ProgramRun) -> dict[str, str]:
    return {u["file"]: u.get("content") for u in container(run).plain("uploads")}


def test_uploads_are_exactly_the_rendered_configuration() -> None:
    settings = edge_settings()
    run = deploy(settings)
    layout = TraefikLayout(backend_hosts=BACKENDS)
    files = uploads(run)
    for path, content in render_files(settings, layout).items():
        assert files[path] == content
    static = yaml.safe_load(files["/etc/traefik/traefik.yml"])
    assert static["providers"] == {"file": {"directory": "/etc/traefik/dynamic", "watch": False}}
    assert container(run).plain("command") == ["traefik", "--configFile=/etc/traefik/traefik.yml"]


def by_type(run: ProgramRun, type_: str) -> list[Registration]:
    return run.of_type(type_)


def test_container_is_hardened() -> None:
    run = deploy(edge_settings())
    c = container(run)
    assert c.plain("name") == "encrypted-platform-edge"
    assert c.plain("readOnly") is True
    assert c.plain("capabilities") == {"drops": ["ALL"], "adds": ["NET_BIND_SERVICE"]}
    assert c.plain("securityOpts") == ["no-new-privileges:true"]
    assert c.plain("user") == "0:0"
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
    assert [n["name"] for n in c.plain("networksAdvanced")] == [
        "encrypted-platform-ingress",
        "encrypted-platform-frontend",
    ]


def test_mounts_are_the_two_encrypted_volumes_by_name() -> None:
    c = container(deploy(edge_settings()))
    assert sorted((m["type"], m["source"], m["target"]) for m in c.plain("mounts")) == [
        ("volume", "encrypted-platform-config-secrets", "/var/lib/traefik"),
        ("volume", "encrypted-platform-logs", "/var/log/traefik"),
    ]


def test_labels_state_role_image_and_tls_facts() -> None:
    c = container(deploy(edge_settings(tls={"profile": "modern"})))
    labels = {entry["label"]: entry["value"] for entry in c.plain("labels")}
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
    [image] = by_type(run, "docker:index/remoteImage:RemoteImage")
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
    script = shlex.split(command.plain("create"))[2]
    assert "EP_DATA_DIR='/srv/encrypted/config-secrets/data'" in script
    assert "EP_RELATIVE_PATH='tls/edge.key'" in script and "EP_MODE='0400'" in script
    files = uploads(run)
    assert files["/etc/traefik/certs/edge.crt"] == pki.chain_pem
    for registration in run.registrations:
        if registration is not command:
            assert marker not in str(reveal(registration.inputs)), registration.name
    # The container waits for the key file (a dependency on the component is one on its command).
    assert run.by_name("edge-tls-key").type == "encrypted-platform:storage:SecretFile"
    assert command.urn in container(run).dependencies


def test_dev_mode_makes_a_local_ca_and_a_leaf_for_every_host() -> None:
    run = deploy(
        edge_settings(
            routes={**ROUTES, "admin": {"host": "admin.example.test", "service": "webui", "port": 8080}}
        )
    )
    keys = by_type(run, "tls:index/privateKey:PrivateKey")
    assert sorted(k.name for k in keys) == ["edge-dev-ca-key", "edge-dev-leaf-key"]
    assert all((k.plain("algorithm"), k.plain("ecdsaCurve")) == ("ECDSA", "P256") for k in keys)
    [ca] = by_type(run, "tls:index/selfSignedCert:SelfSignedCert")
    assert ca.plain("isCaCertificate") is True
    [request] = by_type(run, "tls:index/certRequest:CertRequest")
    assert request.plain("dnsNames") == ["admin.example.test", "app.example.test"]
    [leaf] = by_type(run, "tls:index/locallySignedCert:LocallySignedCert")
    assert "server_auth" in leaf.plain("allowedUses")
    [command] = [r for r in run.registrations if r.name == "edge-tls-key-install"]
    assert is_secret(command.inputs["stdin"])
    assert CAPTURED["edge"].ca_certificate is not None
    assert "/etc/traefik/certs/edge.crt" in uploads(run)


def test_acme_mode_needs_no_key_file_and_no_local_pki() -> None:
    run = deploy(edge_settings(certificates={"mode": "acme", "acme": {"email": "ops@example.test"}}))
    assert not [r for r in run.registrations if r.name.startswith("edge-tls-key")]
    assert not [r for r in run.registrations if r.type.startswith("tls:")]
    assert CAPTURED["edge"].ca_certificate is None
    static = yaml.safe_load(uploads(run)["/etc/traefik/traefik.yml"])
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


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"environment": "prod"},
            "encrypted-platform:edge.image.digest: required when environment is 'prod'",
        ),
        (
            {"backend_hosts": {"webui": "webui"}},
            "encrypted-platform:edge.routes.events.service: unknown service 'api'",
        ),
        (
            {"data_owner": "0:0", "settings": {"user": "65532:65532"}},
            "encrypted-platform:volumes.config-secrets.dataOwner: must be '65532:65532' (edge.user)",
        ),
    ],
)
def test_bad_arguments_fail_before_anything_is_registered(kwargs: dict[str, Any], expected: str) -> None:
    settings = edge_settings(**kwargs.pop("settings", {}))
    with pytest.raises(SettingsError) as error:
        deploy(settings, **kwargs)
    assert any(p.startswith(expected) for p in error.value.problems), error.value.problems


def test_custom_mode_without_the_key_fails(tmp_path: Path) -> None:
    pki = make_pki(tmp_path, ["app.example.test"])
    with pytest.raises(SettingsError) as error:
        deploy(edge_settings(certificates={"mode": "custom", "chain": pki.chain_pem}))
    assert error.value.problems[0].startswith("encrypted-platform:edgeTlsPrivateKey: required")


def test_non_root_user_with_matching_volume_owners() -> None:
    run = deploy(edge_settings(user="65532:65532"), data_owner="65532:65532")
    assert container(run).plain("user") == "65532:65532"
    [command] = [r for r in run.registrations if r.name == "edge-tls-key-install"]
    assert "EP_OWNER='65532:65532'" in shlex.split(command.plain("create"))[2]
