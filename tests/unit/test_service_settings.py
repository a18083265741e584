"""Settings of services, runtime and their cross-key checks: bad input fails with the key named as
`pulumi config set --path` spells it, before anything is registered."""

from __future__ import annotations

from typing import Any

import pytest

from components.settings import SettingsError, parse_settings
from components.settings.env_rules import verification_disabled
from components.settings.services import BUILTIN_SERVICES

pytestmark = pytest.mark.unit

ALL = {name: {} for name in BUILTIN_SERVICES}
OWNERS = {
    "app-db": {"dataOwner": "70:70"},
    "vector-store": {"dataOwner": "1000:1000"},
    "documents": {"dataOwner": "1000:1000"},
    "config-secrets": {},
    "logs": {"dataOwner": "10001:10001"},
}


def problems(**raw: Any) -> list[str]:
    raw.setdefault("volumes", OWNERS)
    with pytest.raises(SettingsError) as caught:
        parse_settings(raw)
    return caught.value.problems


def one_problem(**raw: Any) -> str:
    found = problems(**raw)
    assert len(found) == 1, found
    return found[0]


def services(**overrides: Any) -> dict[str, Any]:
    merged: dict[str, Any] = dict(ALL)
    merged.update(overrides)
    return merged


def test_no_services_unless_the_stack_names_them() -> None:
    assert parse_settings({}).services == {}


def test_naming_a_builtin_service_merges_over_its_definition() -> None:
    settings = parse_settings(
        {"volumes": OWNERS, "services": services(webapp={"env": {"EXTRA": "1"}, "memory": "3GiB"})}
    )
    webapp = settings.services["webapp"]
    assert webapp.image == BUILTIN_SERVICES["webapp"]["image"]
    assert webapp.env["EXTRA"] == "1" and webapp.env["VECTOR_DB"] == "qdrant"  # nested objects merge
    assert webapp.memory == 3 * 1024**3
    assert webapp.connects == BUILTIN_SERVICES["webapp"]["connects"]


def test_a_new_service_needs_an_image() -> None:
    assert (
        one_problem(services={"reports": {"port": 8000}})
        == "encrypted-platform:services.reports.image: Field required"
    )


@pytest.mark.parametrize(
    ("volumes", "expected"),
    [
        ({"data": "/srv"}, "encrypted-platform:services.webapp.volumes.data: unknown EncryptedVolume 'data'"),
        (
            {"/srv/data": "/data"},
            'encrypted-platform:services.webapp.volumes["/srv/data"]: a host path is not allowed',
        ),
        (["/srv/data:/data"], "encrypted-platform:services.webapp.volumes: must be a mapping"),
        (
            {"config-secrets": "/secrets"},
            "encrypted-platform:services.webapp.volumes.config-secrets: the secrets volume",
        ),
    ],
)
def test_persistent_paths_are_encrypted_volumes_only(volumes: Any, expected: str) -> None:
    found = problems(services=services(webapp={"volumes": volumes}))
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    "key", ["ports", "publish", "privileged", "networkMode", "pidMode", "ipcMode", "binds", "uploads"]
)
def test_hardening_cannot_be_undone_by_config(key: str) -> None:
    message = one_problem(services=services(webapp={key: True}))
    assert message.startswith(f"encrypted-platform:services.webapp.{key}: not allowed: ")


def test_a_published_port_is_refused_with_the_edge_as_the_way() -> None:
    message = one_problem(services=services(webapp={"ports": [{"internal": 8080, "external": 80}]}))
    assert "only the edge publishes ports" in message and "edge.routes" in message


def test_endpoints_must_be_https_and_need_egress() -> None:
    message = one_problem(services=services(**{"llm-gateway": {"endpoints": ["http://api.example.test/v1"]}}))
    assert message.startswith("encrypted-platform:services.llm-gateway.endpoints[0]: must be an https:// URL")
    message = one_problem(services=services(**{"vector-store": {"endpoints": ["https://api.example.test"]}}))
    assert message.startswith(
        "encrypted-platform:services.vector-store.endpoints: calling out needs egress: true"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NODE_TLS_REJECT_UNAUTHORIZED", "0"),
        ("PYTHONHTTPSVERIFY", "0"),
        ("REQUESTS_CA_BUNDLE", ""),
        ("CURL_CA_BUNDLE", ""),
        ("SSL_VERIFY", "false"),
        ("LITELLM_SSL_VERIFY", "False"),
        ("OAUTH_VERIFY_SSL", "no"),
        ("GIT_SSL_NO_VERIFY", "1"),
        ("INSECURE_SKIP_VERIFY", "true"),
        ("OIDC_TLS_INSECURE", "1"),
    ],
)
def test_settings_that_turn_tls_verification_off_are_refused(name: str, value: str) -> None:
    message = one_problem(services=services(webapp={"env": {name: value}}))
    assert message.startswith(f"encrypted-platform:services.webapp.env.{name}: ")
    assert "outbound TLS must be verified" in message


@pytest.mark.parametrize("name", ["SSL_VERIFY", "TLS_VERIFY"])
def test_verification_switches_left_on_are_fine(name: str) -> None:
    assert verification_disabled(name, "true") is None


@pytest.mark.parametrize("argument", ["--insecure", "-k", "--no-check-certificate", "--ssl_verify=false"])
def test_command_switches_that_turn_verification_off_are_refused(argument: str) -> None:
    message = one_problem(services=services(**{"llm-gateway": {"command": ["--port", "4000", argument]}}))
    assert message.startswith("encrypted-platform:services.llm-gateway.command[2]: ")


def test_secrets_never_go_into_the_environment() -> None:
    message = one_problem(services=services(webapp={"env": {"OPENAI_API_KEY": "sk-123"}}))
    assert message.startswith("encrypted-platform:services.webapp.env.OPENAI_API_KEY: looks like a secret")
    assert parse_settings(
        {"volumes": OWNERS, "services": services(webapp={"env": {"OPENAI_API_KEY_FILE": "/run/secrets/x"}})}
    )


def test_ca_bundle_variables_are_set_by_the_platform_only() -> None:
    message = one_problem(services=services(webapp={"env": {"SSL_CERT_FILE": "/etc/custom.pem"}}))
    assert "runtime.caBundle" in message
    with pytest.raises(SettingsError, match="runtime.caBundle: must be PEM certificates"):
        parse_settings({"runtime": {"caBundle": "-----BEGIN PRIVATE KEY-----\n"}})


def test_links_must_name_enabled_services_with_a_port() -> None:
    found = problems(services=services(webapp={"connects": ["app-db", "nope"]}))
    assert found == ["encrypted-platform:services.webapp.connects: unknown service 'nope'"]
    found = problems(services=services(**{"app-db": {"enabled": False}}))
    assert found == ["encrypted-platform:services.webapp.connects: service 'app-db' is disabled"]


def test_only_safe_capabilities_can_be_added_back() -> None:
    message = one_problem(services=services(webapp={"capabilities": ["NET_ADMIN"]}))
    assert message.startswith("encrypted-platform:services.webapp.capabilities: NET_ADMIN is not allowed")
    settings = parse_settings(
        {"volumes": OWNERS, "services": services(webapp={"capabilities": ["CAP_CHOWN"]})}
    )
    assert settings.services["webapp"].capabilities == ["CHOWN"]


def test_the_user_must_be_able_to_write_its_volumes() -> None:
    message = one_problem(services=services(webapp={"user": "1234:1234"}))
    assert message == (
        "encrypted-platform:services.webapp.user: 1234:1234 cannot write its volumes (dataOwner 1000:1000); "
        "set both to the same uid:gid"
    )


def test_images_pin_a_release_and_prod_needs_a_digest() -> None:
    message = one_problem(services=services(webapp={"image": "ghcr.io/open-webui/open-webui:latest"}))
    assert message.startswith("encrypted-platform:services.webapp.image: must pin a release tag")
    found = problems(environment="prod", services={"ingestion": {}})
    assert found == [
        "encrypted-platform:services.ingestion.image: prod requires a digest pin "
        "'repository:tag@sha256:<64 hex>' (a tag can be moved), got 'docker.io/apache/tika:2.9.2.1'; "
        "pin it with: make pin-images STACK=<stack> (pins every image written in Pulumi.<stack>.yaml)"
    ]
    digest = "sha256:" + "a" * 64
    assert parse_settings(
        {
            "environment": "prod",
            "services": {"ingestion": {"image": f"docker.io/apache/tika:2.9.2.1@{digest}"}},
        }
    )


def test_reserved_names_and_duplicate_paths() -> None:
    assert one_problem(services={"edge": {"image": "example.org/edge:1.0"}}).startswith(
        "encrypted-platform:services.edge: the name is reserved"
    )
    message = one_problem(services=services(webapp={"volumes": {"documents": "/data", "logs": "/data"}}))
    assert "same path as volume" in message


def test_edge_routes_must_reach_an_enabled_service_on_its_port() -> None:
    edge = {"routes": {"app": {"host": "app.example.test", "service": "webui", "port": 8080}}}
    assert problems(services=ALL, edge=edge) == [
        "encrypted-platform:edge.routes.app.service: unknown or disabled service 'webui' "
        "(services: app-db, ingestion, llm-gateway, observability, vector-store, webapp)"
    ]
    edge = {"routes": {"app": {"host": "app.example.test", "service": "webapp", "port": 80}}}
    assert problems(services=ALL, edge=edge) == [
        "encrypted-platform:edge.routes.app.port: service 'webapp' listens on 8080, not 80"
    ]


def test_every_builtin_service_validates_alone_and_together() -> None:
    settings = parse_settings({"volumes": OWNERS, "services": ALL})
    assert sorted(settings.services) == sorted(BUILTIN_SERVICES)
    for name, service in settings.services.items():
        assert service.image == BUILTIN_SERVICES[name]["image"]
        assert all(url.startswith("https://") for url in service.endpoints)
