"""The project's own stacks pass every mandatory policy: previews (values a provider computes
are unknown), updates (everything known), and with every input marked secret.

"dev" and "prod" are the committed stack configs. They route nothing to the edge yet, so
"<stack>+edge" adds the built-in services behind the Traefik edge (prod: images pinned, ACME).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.analyzer import CapturedStack, PolicyPackProcess, capture, evaluate, load_stack_config

pytestmark = pytest.mark.policy

SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-only\n-----END OPENSSH PRIVATE KEY-----"
DIGEST = "@sha256:" + "5e" * 32
BUILTIN_IMAGES = {
    "app-db": "docker.io/library/postgres:16.4-alpine",
    "vector-store": "docker.io/qdrant/qdrant:v1.11.3-unprivileged",
    "ingestion": "docker.io/apache/tika:2.9.2.1",
    "llm-gateway": "ghcr.io/berriai/litellm:main-v1.65.4-stable",
    "webapp": "ghcr.io/open-webui/open-webui:v0.6.5",
    "observability": "docker.io/otel/opentelemetry-collector-contrib:0.111.0",
}
STACKS = ["dev", "prod", "dev+edge", "prod+edge"]
_cache: dict[tuple[str, bool], CapturedStack] = {}


def stack_config(stack: str) -> tuple[str, dict[str, Any]]:
    base, _, extra = stack.partition("+")
    config = load_stack_config(base)
    if extra == "edge":
        services = load_stack_config("dev")["services"]
        edge = dict(config.get("edge") or {})
        if base == "prod":
            config["services"] = {
                name: {**(s or {}), "image": BUILTIN_IMAGES[name] + DIGEST} for name, s in services.items()
            }
            edge["image"] = {"digest": "sha256:" + "7f" * 32}
        else:
            config["services"] = services
        edge["routes"] = {"app": {"host": "app.example.org", "service": "webapp", "port": 8080}}
        config["edge"] = edge
    return base, config


def own_stack(stack: str, preview: bool) -> CapturedStack:
    key = (stack, preview)
    if key not in _cache:
        base, config = stack_config(stack)
        secret = {"sshPrivateKey": SSH_KEY} if base == "prod" else None
        _cache[key] = capture(config=config, secret_config=secret, stack=base, preview=preview)
    return _cache[key]


@pytest.mark.parametrize("all_secret", [False, True], ids=["plain", "all-secret"])
@pytest.mark.parametrize("variant", ["preview", "update"])
@pytest.mark.parametrize("stack", STACKS)
def test_own_stack_has_no_mandatory_violation(
    pack: PolicyPackProcess, stack: str, variant: str, all_secret: bool
) -> None:
    captured = own_stack(stack, variant == "preview")
    verdict = evaluate(captured, all_secret=all_secret, pack=pack)
    assert not verdict.mandatory(), verdict.describe()
    assert not [d for d in verdict.diagnostics if "could not evaluate" in d.message], verdict.describe()


def test_own_stacks_are_what_the_rules_expect() -> None:
    """Guards the test above against passing vacuously: LUKS commands, volumes bound into their
    mounts, workloads that mount them, and a Traefik edge that publishes 80/443."""
    captured = own_stack("dev+edge", True)
    types = [r.type for r in captured.resources]
    assert types.count("docker:index/volume:Volume") >= 5
    assert types.count("command:local:Command") >= 5
    containers = [r for r in captured.resources if r.type == "docker:index/container:Container"]
    mounted = {
        m.get("source") for r in containers for m in r.inputs.get("mounts", []) if m.get("type") == "volume"
    }
    volumes = {r.inputs.get("name") for r in captured.resources if r.type == "docker:index/volume:Volume"}
    assert mounted and mounted <= volumes
    published = {p.get("external") for r in containers for p in r.inputs.get("ports", [])}
    assert published == {80, 443}


@pytest.mark.parametrize("stack", ["dev+edge", "prod+edge"])
def test_the_pack_reads_the_edge_configuration_our_components_write(
    pack: PolicyPackProcess, stack: str
) -> None:
    """The edge's Traefik files reach the host through Commands (stdin). Weakening the rendered
    dynamic file in the captured stack must be caught: the pass above is not for lack of reading."""
    captured = copy.deepcopy(own_stack(stack, True))
    dynamic = [
        r
        for r in captured.resources
        if isinstance(r.inputs.get("stdin"), str) and "routers:" in r.inputs["stdin"]
    ]
    assert dynamic, "no command writes the edge's dynamic configuration"
    for r in dynamic:
        r.inputs["stdin"] = r.inputs["stdin"].replace("tls: {}", "tls: false").replace("31536000", "300")
    verdict = evaluate(captured, pack=pack)
    assert {"tls-only-routes", "security-headers"} <= verdict.policies("mandatory"), verdict.describe()
