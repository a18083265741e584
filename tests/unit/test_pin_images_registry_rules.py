"""scripts/pin_images.py's reference rules and its registry token flow, wired to a stand-in
transport (the real registry API is exercised in tests/host/test_pin_images.py)."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path

import pytest

from scripts import pin_images

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("repository", "base", "name"),
    [
        ("traefik", "https://registry-1.docker.io", "library/traefik"),
        ("docker.io/library/postgres", "https://registry-1.docker.io", "library/postgres"),
        ("docker.io/qdrant/qdrant", "https://registry-1.docker.io", "qdrant/qdrant"),
        ("ghcr.io/open-webui/open-webui", "https://ghcr.io", "open-webui/open-webui"),
        ("registry.example.org:5000/team/app", "https://registry.example.org:5000", "team/app"),
        ("localhost:5000/app", "http://localhost:5000", "app"),
        ("127.0.0.1:5000/library/postgres", "http://127.0.0.1:5000", "library/postgres"),
        ("10.0.0.1:5000/app", "https://10.0.0.1:5000", "app"),
    ],
)
def test_registry_and_scheme_follow_dockers_reference_rules(repository: str, base: str, name: str) -> None:
    registry = pin_images.registry_of(repository)
    assert (registry.base, registry.name) == (base, name)


class TokenRegistry:
    """Answers like Docker Hub: 401 with a Bearer challenge, a token endpoint, then the manifest."""

    def __init__(self, realm: str = "https://auth.example.test/token") -> None:
        self.realm = realm
        self.manifest = json.dumps({"schemaVersion": 2, "manifests": []}).encode()
        self.requests: list[urllib.request.Request] = []

    def __call__(self, request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(request)
        url = request.full_url
        if url.startswith(self.realm):
            return 200, {}, json.dumps({"token": "t0k3n"}).encode()
        if request.get_header("Authorization") != "Bearer t0k3n":
            challenge = f'Bearer realm="{self.realm}",service="registry.example.test",scope="repository:library/traefik:pull"'
            return 401, {"www-authenticate": challenge}, b""
        digest = "sha256:" + hashlib.sha256(self.manifest).hexdigest()
        return 200, {"docker-content-digest": digest}, self.manifest


def test_an_anonymous_token_is_fetched_and_the_digest_is_the_manifests_sha256() -> None:
    registry = TokenRegistry()
    digest = pin_images.resolve("traefik:v3.7.15", registry)
    assert digest == "sha256:" + hashlib.sha256(registry.manifest).hexdigest()
    first, token, second = registry.requests
    assert first.full_url == "https://registry-1.docker.io/v2/library/traefik/manifests/v3.7.15"
    assert "application/vnd.oci.image.index.v1+json" in (first.get_header("Accept") or "")
    assert token.full_url == (
        "https://auth.example.test/token?service=registry.example.test&scope=repository%3Alibrary%2Ftraefik%3Apull"
    )
    assert second.get_header("Authorization") == "Bearer t0k3n"


def test_a_plain_http_token_realm_is_refused() -> None:
    with pytest.raises(pin_images.PinError, match="not https"):
        pin_images.resolve("traefik:v3.7.15", TokenRegistry(realm="http://auth.example.test/token"))


def test_a_digest_header_that_does_not_match_the_manifest_is_refused() -> None:
    def lying(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
        return 200, {"docker-content-digest": "sha256:" + "0" * 64}, b"{}"

    with pytest.raises(pin_images.PinError, match="the registry says sha256:0000"):
        pin_images.resolve("ghcr.io/open-webui/open-webui:v0.6.5", lying)
