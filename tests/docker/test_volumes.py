"""Persistent paths: each service volume binds its EncryptedVolume's data directory at the declared
mount point, and the data outlives the container when the program replaces it.

LUKS is out of scope in this tier (no device-mapper here): the data directories are prepared by
the acting mocks' LuksDataDirStandIn and are NOT encrypted. tests/host and tests/vm run the real
LUKS programs."""

from __future__ import annotations

import copy
import secrets

import pytest

from components.settings import parse_settings
from components.settings.services import BUILTIN_SERVICES

from .conftest import Deployment

pytestmark = pytest.mark.docker

STATEFUL = sorted(name for name, spec in BUILTIN_SERVICES.items() if spec.get("volumes"))


@pytest.mark.parametrize("service", STATEFUL)
def test_each_volume_binds_its_data_directory_at_the_declared_path(
    platform: Deployment, service: str
) -> None:
    settings = parse_settings(platform.config)
    config = settings.services[service]
    lab = platform.lab
    container = platform.container(service)
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    for volume, path in config.volumes.items():
        mount = mounts[path]
        assert mount["Type"] == "volume" and mount["Name"] == f"encrypted-platform-{volume}"
        assert mount["RW"] is True
        options = lab.client.volumes.get(mount["Name"]).attrs["Options"]
        data_dir = lab.root / "encrypted" / volume / "data"
        assert options == {"type": "none", "o": "bind", "device": str(data_dir)}
        # A file written inside the container, as the container's user, is in that directory.
        marker = f"marker-{secrets.token_hex(4)}"
        code, out = lab.exec(container.name, ["sh", "-c", f"echo {marker} > {path}/{marker}.txt && id -u"])
        assert code == 0, out
        on_host = data_dir / f"{marker}.txt"
        assert on_host.read_text().strip() == marker
        uid, _ = settings.volumes[volume].data_owner.split(":")
        assert on_host.stat().st_uid == int(uid) == int(out.strip())


def test_data_survives_container_replacement(platform: Deployment) -> None:
    lab = platform.lab
    written = {}
    for service in STATEFUL:
        path = next(iter(parse_settings(platform.config).services[service].volumes.values()))
        token = secrets.token_hex(8)
        code, out = lab.exec(
            f"encrypted-platform-{service}", ["sh", "-c", f"echo {token} > {path}/survivor.txt"]
        )
        assert code == 0, out
        written[service] = (path, token, platform.container(service).id)

    # A changed input that the provider can only apply by replacing each container.
    config = copy.deepcopy(platform.config)
    for service in STATEFUL:
        config["services"].setdefault(service, {}).setdefault("env", {})["DEPLOYMENT_GENERATION"] = "2"
    report = platform.redeploy(config)

    replaced = {
        urn.rsplit("::", 1)[1] for urn in report.replaced if "docker:index/container:Container" in urn
    }
    assert replaced == set(STATEFUL)
    assert not [urn for urn in report.replaced + report.deleted if "docker:index/volume:Volume" in urn]
    for service, (path, token, old_id) in written.items():
        container = platform.container(service)
        assert container.id != old_id, service
        assert "DEPLOYMENT_GENERATION=2" in container.attrs["Config"]["Env"]
        code, out = lab.exec(container.name, ["cat", f"{path}/survivor.txt"])
        assert code == 0 and out.strip() == token, service
