"""`pulumi stack output`: the program's exports under the SDK mock runtime, for the dev stack and
prod as `make pin-images` leaves it. Every value is plain (but for the escrows of the volume
passphrases and the backup repository's password, secret outputs), and each fact matches what the resources themselves
receive (volume labels, container names and images, network names)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pulumi
import pytest
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.sync_await import _sync_await

from components.at_rest.luks_scripts import volume_spec
from components.outputs import certificate_outputs
from components.settings import PROJECT, parse_settings
from components.settings.services import BUILTIN_SERVICES
from tests.support.edgelab.pki import chain_of, make_ca, make_leaf
from tests.support.pinned_stack import pinned_stack_config
from tests.support.program_runner import ProgramRun, Registration, run_main, run_program

pytestmark = pytest.mark.unit

SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-only\n-----END OPENSSH PRIVATE KEY-----"
_runs: dict[tuple[str, bool], tuple[ProgramRun, dict[str, tuple[Any, bool]]]] = {}


def exports(stack: str, *, preview: bool = False) -> tuple[ProgramRun, dict[str, tuple[Any, bool]]]:
    """Runs __main__.py; returns its registrations and each stack output as (value, is secret).
    An output unknown at preview is left out."""
    if (stack, preview) not in _runs:
        exported: dict[str, Any] = {}

        def program() -> None:
            run_main()
            root = get_root_resource()
            assert root is not None
            exported.update(root.outputs)  # type: ignore[attr-defined]

        secret = {"sshPrivateKey": SSH_KEY} if stack == "prod" else None
        run = run_program(
            program, config=pinned_stack_config(stack), secret_config=secret, stack=stack, preview=preview
        )
        resolved: dict[str, tuple[Any, bool]] = {}
        for name, value in exported.items():
            output = pulumi.Output.from_input(value)
            known = _sync_await(output.is_known())
            if known:
                resolved[name] = (_sync_await(output.future()), _sync_await(output.is_secret()))
        _runs[(stack, preview)] = (run, resolved)
    return _runs[(stack, preview)]


def labels(registration: Registration) -> dict[str, str]:
    return {item["label"]: item["value"] for item in registration.plain("labels") or []}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_outputs_are_plain_and_known_at_preview(stack: str) -> None:
    _, outputs = exports(stack)
    assert {"volumes", "services", "networks", "routes", "certificates", "urls", "pulledImages"} <= set(
        outputs
    )
    # The secret outputs: the escrows of the volume passphrases and of the backup repository's
    # password (prod backs up).
    assert sorted(name for name, (_, secret) in outputs.items() if secret) == (
        ["backupRepositoryPassword", "volumePassphrases"] if stack == "prod" else ["volumePassphrases"]
    )
    _, at_preview = exports(stack, preview=True)
    for name in ("volumes", "services", "networks", "routes", "certificates", "urls"):
        assert at_preview[name] == outputs[name], name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_volume_outputs_match_the_luks_parameters_and_docker_volumes(stack: str) -> None:
    run, outputs = exports(stack)
    settings = parse_settings(pinned_stack_config(stack))
    volumes = outputs["volumes"][0]
    assert set(volumes) == set(settings.volumes)
    docker_volumes = {r.plain("name"): r for r in run.of_type("docker:index/volume:Volume")}
    for name, volume in settings.volumes.items():
        spec = volume_spec(name, volume, settings.encryption, project=PROJECT, stack=stack)
        entry = volumes[name]
        assert entry["luksUuid"] == spec.uuid
        assert entry["mapper"] == f"/dev/mapper/{spec.mapper}"
        assert entry["keyVersion"] == 1
        assert entry["mountPoint"] == spec.mount
        assert entry["unlock"] == ("tang" if stack == "prod" else "crypttab")
        if stack == "prod":
            assert entry["tang"]["threshold"] == 1
            assert [s["url"] for s in entry["tang"]["servers"]] == [
                "http://tang-1.internal.example:7500",
                "http://tang-2.internal.example:7500",
            ]
        else:
            assert "tang" not in entry
        bound = docker_volumes[entry["dockerVolume"]]
        assert labels(bound)["encrypted-platform.luks.uuid"] == entry["luksUuid"]
        assert labels(bound)["encrypted-platform.luks.mount-point"] == entry["mountPoint"]
        assert bound.plain("driverOpts")["device"] == entry["dataDir"]
        assert ("sizeBytes" in entry) == (volume.backing == "file")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_service_outputs_name_the_containers_images_and_networks(stack: str) -> None:
    run, outputs = exports(stack)
    services = outputs["services"][0]
    assert set(services) == set(BUILTIN_SERVICES) | {"edge"}
    containers = {r.plain("name"): r for r in run.of_type("docker:index/container:Container")}
    images = {r.name: r.plain("name") for r in run.of_type("docker:index/remoteImage:RemoteImage")}
    network_names = {r.plain("name") for r in run.of_type("docker:index/network:Network")}
    for name, entry in services.items():
        container = containers[entry["container"]]
        assert images[f"{name}-image"] == entry["image"]
        assert entry["pinned"] == ("@sha256:" in entry["image"]) == (stack == "prod")
        attached = {n["name"] for n in container.plain("networksAdvanced") or []}
        if container.plain("networkMode"):
            attached.add(container.plain("networkMode"))
        assert set(entry["networks"]) == attached and attached <= network_names, name
    assert services["edge"]["ports"] == {"http": 80, "https": 443}
    assert set(outputs["pulledImages"][0]) == set(services)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_routes_certificates_and_urls(stack: str) -> None:
    _, outputs = exports(stack)
    host = "app.example.com" if stack == "prod" else "app.platform.localhost"
    assert outputs["routes"][0] == {
        "webapp": {"url": f"https://{host}/", "service": "webapp", "port": 8080, "websocket": False},
        "webapp-events": {"url": f"wss://{host}/ws", "service": "webapp", "port": 8080, "websocket": True},
    }
    assert outputs["urls"][0] == [f"https://{host}"]
    certificates = outputs["certificates"][0]
    if stack == "prod":
        assert certificates == {
            "mode": "acme",
            "acmeDirectory": "https://acme-v02.api.letsencrypt.org/directory",
        }
    else:
        assert certificates == {"mode": "dev"}
        assert "devCaCertificate" in outputs


def test_a_custom_chain_exports_its_expiry() -> None:
    root = make_ca("Outputs Root")
    not_after = (dt.datetime.now(dt.UTC) + dt.timedelta(days=200)).replace(microsecond=0)
    leaf = make_leaf(root, ["app.example.com"], not_after=not_after)
    settings = parse_settings({"edge": {"certificates": {"mode": "custom", "chain": chain_of(leaf, root)}}})
    assert certificate_outputs(settings) == {"mode": "custom", "expires": f"{not_after:%Y-%m-%dT%H:%M:%SZ}"}
