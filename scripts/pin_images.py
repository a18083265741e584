"""`make pin-images STACK=prod`: pin every image a stack file names by its registry digest.

For each `encrypted-platform:services.<name>.image` given as 'repository:tag' and for
`encrypted-platform:edge.image` without a digest, it asks the image's registry (HTTP API v2,
`GET /v2/<name>/manifests/<tag>`, anonymous bearer tokens as Docker Hub and ghcr.io hand them out)
for the manifest the tag points to now, and writes 'repository:tag@sha256:<digest>' (or
`digest: sha256:...`) into Pulumi.<stack>.yaml. The digest is the SHA-256 of the manifest bytes the
registry returned (checked against its Docker-Content-Digest header). A multi-platform tag pins
its index, so every platform stays pinned.

The file is edited in place, comments kept: each value is replaced where it is written, and the
result is parsed again and must differ from the original in exactly the pinned values, or nothing
is written. Plain http is used only for registries on the loopback (127.0.0.1, localhost), as
Docker does; everything else is https.

    .venv/bin/python -m scripts.pin_images prod [--dry-run]
    .venv/bin/python -m scripts.pin_images path/to/Pulumi.other.yaml
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.settings import PROJECT
from components.settings.services import image_parts

REPO = Path(__file__).resolve().parents[1]

DOCKER_HUB = "registry-1.docker.io"
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
TIMEOUT = 30


class PinError(Exception):
    pass


@dataclass(frozen=True)
class Target:
    key: str  # as `pulumi config set --path` spells it
    path: tuple[str, ...]  # inside the project namespace
    reference: str  # repository:tag


@dataclass(frozen=True)
class Registry:
    host: str  # host[:port]
    name: str  # repository path on that registry

    @property
    def base(self) -> str:
        hostname = self.host.rsplit(":", 1)[0] if not self.host.startswith("[") else self.host
        return f"{'http' if _loopback(hostname) else 'https'}://{self.host}"


def _loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def registry_of(repository: str) -> Registry:
    """Docker's reference rules: the first component is a registry when it has a '.' or ':' or is
    'localhost'; otherwise the image is on Docker Hub (official images under library/)."""
    first, _, rest = repository.partition("/")
    if first in ("docker.io", "index.docker.io") and rest:
        repository = rest
    elif rest and ("." in first or ":" in first or first == "localhost"):
        return Registry(first, rest)
    return Registry(DOCKER_HUB, repository if "/" in repository else f"library/{repository}")


def targets(config: dict[str, Any]) -> Iterator[Target]:
    for name, service in sorted((config.get("services") or {}).items()):
        image = (service or {}).get("image") if isinstance(service, dict) else None
        if isinstance(image, str) and image_parts(image)[2] is None:
            yield Target(f"{PROJECT}:services.{name}.image", ("services", name, "image"), image)
    edge_image = ((config.get("edge") or {}).get("image")) or {}
    if isinstance(edge_image, dict) and edge_image and not edge_image.get("digest"):
        repository, tag = edge_image.get("repository"), edge_image.get("tag")
        if not (isinstance(repository, str) and isinstance(tag, str)):
            raise PinError(f"{PROJECT}:edge.image: set repository and tag to pin the edge image")
        yield Target(f"{PROJECT}:edge.image.digest", ("edge", "image", "digest"), f"{repository}:{tag}")


Fetch = Callable[[urllib.request.Request], tuple[int, dict[str, str], bytes]]


def http_fetch(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - http(s) only, built above
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def _get(url: str, headers: dict[str, str] | None = None) -> urllib.request.Request:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PinError(f"refusing a URL that is not http(s): {url!r}")
    return urllib.request.Request(url, headers=headers or {})  # noqa: S310 - scheme checked above


def _challenge(header: str) -> dict[str, str]:
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "bearer":
        raise PinError(f"unsupported registry authentication {scheme!r}")
    return dict(re.findall(r'(\w+)="([^"]*)"', params))


def _token(challenge: dict[str, str], fetch: Fetch) -> str:
    realm = challenge.get("realm", "")
    if urllib.parse.urlsplit(realm).scheme != "https" and not _loopback(
        urllib.parse.urlsplit(realm).hostname or ""
    ):
        raise PinError(f"refusing a token realm that is not https: {realm!r}")
    query = urllib.parse.urlencode({k: v for k, v in challenge.items() if k in ("service", "scope")})
    status, _, body = fetch(_get(f"{realm}?{query}"))
    if status != 200:
        raise PinError(f"token request to {realm} answered {status}")
    data = json.loads(body)
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        raise PinError(f"token response from {realm} has no token")
    return token


def resolve(reference: str, fetch: Fetch = http_fetch) -> str:
    """The sha256 digest of the manifest `reference` (repository:tag) points to now."""
    repository, tag, _ = image_parts(reference)
    registry = registry_of(repository)
    url = f"{registry.base}/v2/{registry.name}/manifests/{urllib.parse.quote(tag, safe='')}"
    headers = {"Accept": MANIFEST_TYPES}
    try:
        status, response_headers, body = fetch(_get(url, headers))
        if status == 401 and "www-authenticate" in response_headers:
            token = _token(_challenge(response_headers["www-authenticate"]), fetch)
            headers["Authorization"] = f"Bearer {token}"
            status, response_headers, body = fetch(_get(url, headers))
    except urllib.error.URLError as error:
        raise PinError(f"{reference}: {url}: {error.reason}") from error
    if status != 200:
        raise PinError(f"{reference}: {url} answered {status}")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    claimed = response_headers.get("docker-content-digest")
    if claimed and claimed != digest:
        raise PinError(f"{reference}: the registry says {claimed}, the manifest it sent is {digest}")
    return digest


def _replace_once(text: str, old: str, new: str, what: str) -> str:
    if text.count(old) != 1:
        raise PinError(f"{what}: {old!r} must appear exactly once in the stack file to be pinned in place")
    return text.replace(old, new)


def pin_text(text: str, pins: dict[Target, str]) -> str:
    """The stack file with each target pinned, every other byte as it was."""
    result = text
    for target, digest in pins.items():
        if target.path[0] == "services":
            result = _replace_once(result, target.reference, f"{target.reference}@{digest}", target.key)
        else:
            pattern = re.compile(
                r"(?m)^(\s*encrypted-platform:edge:\s*\n(?:\s+.*\n)*?\s+image:\s*\{[^}\n]*?)\}"
            )
            match = pattern.search(result)
            if not match or "digest" in match.group(1):
                raise PinError(
                    f"{target.key}: write edge.image as a flow mapping without a digest, e.g. "
                    "image: {repository: traefik, tag: v3.7.15}"
                )
            result = (
                result[: match.start()]
                + match.group(1).rstrip()
                + f", digest: '{digest}'}}"
                + result[match.end() :]
            )
    return result


def _project_config(text: str) -> dict[str, Any]:
    raw = (yaml.safe_load(text) or {}).get("config") or {}
    prefix = f"{PROJECT}:"
    return {key[len(prefix) :]: value for key, value in raw.items() if key.startswith(prefix)}


def _expected(config: dict[str, Any], pins: dict[Target, str]) -> dict[str, Any]:
    expected = json.loads(json.dumps(config))
    for target, digest in pins.items():
        node = expected
        for part in target.path[:-1]:
            node = node[part]
        value = f"{target.reference}@{digest}" if target.path[0] == "services" else digest
        node[target.path[-1]] = value
    return expected


def pin_stack_file(path: Path, fetch: Fetch = http_fetch, *, dry_run: bool = False) -> dict[str, str]:
    text = path.read_text()
    config = _project_config(text)
    pins = {target: resolve(target.reference, fetch) for target in targets(config)}
    if not pins:
        return {}
    pinned = pin_text(text, pins)
    if _project_config(pinned) != _expected(config, pins):
        raise PinError(f"{path.name}: pinning in place changed more than the image values; nothing written")
    if not dry_run:
        path.write_text(pinned)
    return {target.key: f"{target.reference}@{digest}" for target, digest in pins.items()}


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--dry-run"]
    if len(args) != 1:
        print("usage: python -m scripts.pin_images STACK|STACK_FILE.yaml [--dry-run]", file=sys.stderr)
        return 2
    path = Path(args[0]) if args[0].endswith(".yaml") else REPO / f"Pulumi.{args[0]}.yaml"
    if not path.is_file():
        print(f"error: {path.name} does not exist", file=sys.stderr)
        return 1
    try:
        pinned = pin_stack_file(path, dry_run="--dry-run" in argv)
    except (PinError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not pinned:
        print(f"{path.name}: every image is pinned by digest already")
    for key, value in pinned.items():
        print(f"{key}: {value}{' (not written: --dry-run)' if '--dry-run' in argv else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
