"""`make pin-images` (scripts/pin_images.py) against a real registry: Debian's docker-registry
(the distribution registry) on 127.0.0.1, with images pushed through its HTTP API v2 here. The
pinned stack file keeps its comments and layout, and validates as a prod stack."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.settings import PROJECT, parse_settings
from scripts import pin_images
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.needs("docker-registry")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


class LocalRegistry:
    def __init__(self, port: int) -> None:
        self.host = f"127.0.0.1:{port}"
        self.base = f"http://{self.host}"
        self.manifest_sizes: dict[str, int] = {}

    def _request(
        self, method: str, url: str, body: bytes = b"", content_type: str = ""
    ) -> tuple[int, dict[str, str]]:
        headers = {"Content-Type": content_type} if content_type else {}
        data = body if method != "GET" else None
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - loopback
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback registry
                return response.status, dict(response.headers.items())
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{method} {url}: {error.code} {error.read()[:300]!r}") from error

    def push_blob(self, name: str, data: bytes) -> dict[str, object]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        _, headers = self._request("POST", f"{self.base}/v2/{name}/blobs/uploads/")
        location = headers["Location"]
        location = location if location.startswith("http") else self.base + location
        separator = "&" if "?" in location else "?"
        self._request("PUT", f"{location}{separator}digest={digest}", data, "application/octet-stream")
        return {"digest": digest, "size": len(data)}

    def push_image(self, name: str, tag: str, marker: str) -> str:
        """A one-layer image whose content depends on `marker`; returns its manifest digest."""
        config = self.push_blob(
            name, json.dumps({"os": "linux", "architecture": "amd64", "marker": marker}).encode()
        )
        layer = self.push_blob(name, f"layer {marker}".encode())
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer}],
            }
        ).encode()
        self._request("PUT", f"{self.base}/v2/{name}/manifests/{tag}", manifest, OCI_MANIFEST)
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        self.manifest_sizes[digest] = len(manifest)
        return digest

    def push_index(self, name: str, tag: str, manifest_digests: list[str]) -> str:
        entries = []
        for digest, arch in zip(manifest_digests, ("amd64", "arm64"), strict=False):
            entries.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": self.manifest_sizes[digest],
                    "platform": {"os": "linux", "architecture": arch},
                }
            )
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        self._request("PUT", f"{self.base}/v2/{name}/manifests/{tag}", index, OCI_INDEX)
        return "sha256:" + hashlib.sha256(index).hexdigest()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = root / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    log = (root / "registry.log").open("w")
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((root / "registry.log").read_text()) from None
                time.sleep(0.2)
        yield LocalRegistry(port)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


STACK_FILE = """\
# A production stack (comments and layout survive pinning).
config:
  encrypted-platform:environment: prod
  encrypted-platform:host:
    mode: ssh
    address: 203.0.113.10
    user: deploy
    become: true
    hostKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6b0ETJTxVgcNvE2Sw4V1bXbvo8VkD2q0m9bVvT0m3a
  encrypted-platform:encryption:
    unlockAtBoot: manual
  encrypted-platform:volumes:
    app-db: {backing: device, device: /dev/disk/by-id/virtio-app-db, dataOwner: "70:70"}
    config-secrets: {backing: device, device: /dev/disk/by-id/virtio-config-secrets}
    logs: {backing: device, device: /dev/disk/by-id/virtio-logs, dataOwner: "10001:10001"}
  encrypted-platform:edge:
    image: {repository: REGISTRY/traefik, tag: v3.7.15}  # the edge
    certificates:
      mode: acme
      acme: {email: ops@example.org}
  encrypted-platform:services:
    app-db: {image: "REGISTRY/library/postgres:16.4-alpine"}  # pinned below
    observability: {image: "REGISTRY/otel/opentelemetry-collector-contrib:0.111.0@PINNED"}
"""


def test_pin_images_writes_the_digests_the_registry_serves(registry: LocalRegistry, tmp_path: Path) -> None:
    postgres = registry.push_image("library/postgres", "16.4-alpine", "postgres")
    traefik_amd64 = registry.push_image("traefik", "amd64-only", "traefik-amd64")
    traefik_arm64 = registry.push_image("traefik", "arm64-only", "traefik-arm64")
    traefik = registry.push_index("traefik", "v3.7.15", [traefik_amd64, traefik_arm64])
    pinned_already = "sha256:" + "ab" * 32
    stack = tmp_path / "Pulumi.prod.yaml"
    text = STACK_FILE.replace("REGISTRY", registry.host).replace("PINNED", pinned_already)
    stack.write_text(text)

    written = pin_images.pin_stack_file(stack)

    assert written == {
        f"{PROJECT}:services.app-db.image": f"{registry.host}/library/postgres:16.4-alpine@{postgres}",
        f"{PROJECT}:edge.image.digest": f"{registry.host}/traefik:v3.7.15@{traefik}",
    }
    after = stack.read_text()
    assert after.splitlines()[0] == "# A production stack (comments and layout survive pinning)."
    assert (
        f'app-db: {{image: "{registry.host}/library/postgres:16.4-alpine@{postgres}"}}  # pinned below'
        in after
    )
    assert (
        f"image: {{repository: {registry.host}/traefik, tag: v3.7.15, digest: '{traefik}'}}  # the edge"
        in after
    )
    assert f"opentelemetry-collector-contrib:0.111.0@{pinned_already}" in after, (
        "a pinned image is left alone"
    )
    assert len(after.splitlines()) == len(text.splitlines())

    raw = yaml.safe_load(after)["config"]
    settings = parse_settings({k.removeprefix(f"{PROJECT}:"): v for k, v in raw.items()})
    assert settings.services["app-db"].image.endswith(postgres)
    assert settings.edge.image.digest == traefik

    assert pin_images.pin_stack_file(stack) == {}, "a second run finds nothing to pin"
    assert stack.read_text() == after


def test_a_tag_the_registry_does_not_have_is_an_error_and_nothing_is_written(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    stack = tmp_path / "Pulumi.prod.yaml"
    text = (
        "config:\n  encrypted-platform:environment: prod\n  encrypted-platform:services:\n"
        f'    app-db: {{image: "{registry.host}/library/postgres:99.0-missing"}}\n'
    )
    stack.write_text(text)
    with pytest.raises(pin_images.PinError, match="99.0-missing: .* answered 404"):
        pin_images.pin_stack_file(stack)
    assert stack.read_text() == text


def test_the_command_line_names_each_key_it_pins(registry: LocalRegistry, tmp_path: Path) -> None:
    digest = registry.push_image("library/postgres", "16.5-alpine", "postgres-16.5")
    stack = tmp_path / "Pulumi.prod.yaml"
    text = f'config:\n  encrypted-platform:services:\n    app-db: {{image: "{registry.host}/library/postgres:16.5-alpine"}}\n'
    stack.write_text(text)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        # As `make pin-images` runs it: a module of the project, from the project root.
        argv = [sys.executable, "-m", "scripts.pin_images", *args]
        return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)

    dry = run(str(stack), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    key = f"{PROJECT}:services.app-db.image: {registry.host}/library/postgres:16.5-alpine@{digest}"
    assert dry.stdout == f"{key} (not written: --dry-run)\n"
    assert stack.read_text() == text
    real = run(str(stack))
    assert real.returncode == 0 and real.stdout == f"{key}\n"
    again = run(str(stack))
    assert (
        again.returncode == 0
        and again.stdout == "Pulumi.prod.yaml: every image is pinned by digest already\n"
    )
    missing = run("no-such-stack")
    assert missing.returncode == 1 and "Pulumi.no-such-stack.yaml does not exist" in missing.stderr
