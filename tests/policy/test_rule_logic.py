"""Pure rule logic (no gRPC, no Pulumi runtime): the shell reader, LUKS facts, Traefik parsing,
verification switches, production detection, exceptions. Fast: unit tier."""

from __future__ import annotations

import datetime as dt

import pytest
from analysis.luks import analyze_command
from analysis.rule import Finding, apply_exceptions
from analysis.shell import parse_program, strip_wrappers
from analysis.stack import Resource, StackInfo, resource_from_json
from analysis.traefik import classify, env_tree, flags_tree, get, labels_tree, parse_config_text
from analysis.values import UNKNOWN, is_unknown
from rules.in_transit.certificates import is_production
from rules.in_transit.outbound_tls import disables_verification, normalize_name, url_problem
from rules.isolation.no_host_paths import exposes_engine_socket

from components.at_rest.luks_scripts import render_program, volume_spec
from components.settings import parse_settings
from components.shell import invocation

pytestmark = pytest.mark.unit


def command(create: str, **props: object) -> Resource:
    return Resource("urn:x::cmd", "command:local:Command", "cmd", {"create": create, **props})


@pytest.mark.parametrize("program", ["ensure", "delete", "reencrypt"])
def test_our_rendered_programs_are_read_as_luks2_on_stdin(program: str) -> None:
    settings = parse_settings({})
    spec = volume_spec("app-db", settings.volumes["app-db"], settings.encryption, project="p", stack="dev")
    facts = analyze_command(command(invocation(render_program(program, spec), "n", become=True)))
    assert [(m.name, m.kind) for m in facts.mappings] == [("ep-app-db", "luks2")]
    assert [(str(m.source), str(m.target)) for m in facts.mounts] == [
        ("/dev/mapper/ep-app-db", "/srv/encrypted/app-db")
    ]
    assert facts.literals == []
    fmt = next(c for c in facts.calls if c.action == "luksFormat")
    assert (str(fmt.option("--cipher")), str(fmt.option("--key-size")), str(fmt.option("--pbkdf"))) == (
        "aes-xts-plain64",
        "512",
        "argon2id",
    )
    assert str(fmt.option("--key-file")) == "-"


def test_parameter_block_substitution_and_dynamic_variables() -> None:
    program = parse_program("""{
A='/srv/x'
K=""
}
f() { printf '/dev/mapper/%s' "$NAME"; }
NAME=data
IFS= read -r K
mount "$(f)" "$A/sub"
echo "$K"
""")
    mount = next(c for c in program.commands if c.argv and c.argv[0] == "mount")
    assert [str(w) for w in mount.argv] == ["mount", "/dev/mapper/data", "/srv/x/sub"]
    echo = next(c for c in program.commands if c.argv and c.argv[0] == "echo")
    assert not echo.argv[1].resolved  # K is read at run time


def test_nested_shell_and_wrappers() -> None:
    program = parse_program(
        "sudo -n -u root bash -c 'cryptsetup open --type luks2 --key-file=- /dev/vdb d' x"
    )
    inner = program.nested[0].commands[0]
    assert [str(w) for w in strip_wrappers(inner.argv)][:3] == ["cryptsetup", "open", "--type"]


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("echo -n 'hunter2' | cryptsetup open --type luks2 /dev/vdb d", True),
        (
            "KEY='s3cret-value'; printf '%s' \"$KEY\" | cryptsetup open --type luks2 --key-file=- /dev/vdb d",
            True,
        ),
        (
            "IFS= read -r KEY; printf '%s' \"$KEY\" | cryptsetup open --type luks2 --key-file=- /dev/vdb d",
            False,
        ),
        ("cryptsetup open --type luks2 /dev/vdb d <<< 'letmein1'", True),
        ("cryptsetup open --type luks2 --key-file <(echo abcdefgh) /dev/vdb d", True),
        ("echo abcdefgh > /run/k; cryptsetup open --type luks2 --key-file /run/k /dev/vdb d", True),
        ("cryptsetup open --type luks2 --key-file /etc/keys/d.key /dev/vdb d", False),
        ("cat /run/secrets/k | cryptsetup open --type luks2 --key-file=- /dev/vdb d", False),
    ],
)
def test_key_material_in_text(text: str, literal: bool) -> None:
    assert bool(analyze_command(command(text)).literals) is literal


def test_plain_and_luks1_mappings_are_not_luks2() -> None:
    kinds = {
        m.name: m.kind
        for m in analyze_command(
            command(
                "cryptsetup open --type plain /dev/a p; cryptsetup luksOpen /dev/b l; "
                "cryptsetup luksFormat --type luks1 /dev/c; cryptsetup open /dev/c one"
            )
        ).mappings
    }
    assert kinds == {"p": "plain", "l": "luks", "one": "luks1"}


def test_unknown_program_is_reported() -> None:
    assert analyze_command(command(UNKNOWN)).unknown_fields == ["create"]  # type: ignore[arg-type]


def test_traefik_forms_become_one_tree() -> None:
    flags = flags_tree(["--entryPoints.web.address=:80", "--api.insecure", "--log.level", "INFO"])
    assert get(flags, "entrypoints", "web", "address") == ":80"
    assert get(flags, "api", "insecure") == "true" and get(flags, "log", "level") == "INFO"
    env = env_tree({"TRAEFIK_SERVERSTRANSPORT_INSECURESKIPVERIFY": "true", "OTHER": "x"})
    assert get(env, "serverstransport", "insecureskipverify") == "true"
    tree, implicit = labels_tree(
        {
            "traefik.enable": "true",
            "traefik.http.routers.r.tls": "true",
            "traefik.http.routers.r.tls.certresolver": "le",
        }
    )
    assert tree is not None and not implicit
    assert get(tree, "http", "routers", "r", "tls", "certresolver") == "le"
    assert labels_tree({"traefik.enable": "true"}) == ({}, True)
    assert labels_tree({"traefik.enable": "false", "traefik.http.routers.r.rule": "x"}) == (None, False)
    toml = parse_config_text('[http.routers.a]\nrule = "Host(`x`)"\n', "d.toml")
    assert toml is not None and classify(toml) == "dynamic"
    assert classify(parse_config_text("entryPoints:\n  web: {address: ':80'}\n") or {}) == "static"
    assert classify(parse_config_text("model_list: []\nlog: {}\n") or {}) is None


@pytest.mark.parametrize(
    ("name", "value", "disabled"),
    [
        ("NODE_TLS_REJECT_UNAUTHORIZED", "0", True),
        ("NODE_TLS_REJECT_UNAUTHORIZED", "1", False),
        ("PYTHONHTTPSVERIFY", "0", True),
        ("LITELLM_SSL_VERIFY", "False", True),
        ("SSL_VERIFY", "true", False),
        ("sslVerify", "false", True),
        ("verify_ssl", "no", True),
        ("CURL_CA_BUNDLE", "", True),
        ("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt", False),
        ("OIDC_INSECURE_SKIP_VERIFY", "true", True),
        ("GIT_SSL_NO_VERIFY", "1", True),
        ("DB_SSL_CERT_REQS", "CERT_NONE", True),
        ("TRAEFIK_SERVERSTRANSPORT_INSECURESKIPVERIFY", "true", False),  # rule tls-only-routes owns it
        ("OTEL_EXPORTER_OTLP_INSECURE", "true", True),
    ],
)
def test_verification_switches(name: str, value: str, disabled: bool) -> None:
    assert disables_verification(name, value) is disabled


def test_name_normalisation() -> None:
    assert normalize_name("tlsInsecureSkipVerify") == "TLS_INSECURE_SKIP_VERIFY"
    assert normalize_name("ssl-verify") == "SSL_VERIFY"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://app:8080/x", None),
        ("http://localhost:9000", None),
        ("http://127.0.0.2/", None),
        ("https://api.example.com/v1", None),
        ("http://api.example.com/v1", "plain http"),
        ("ws://events.example.com", "plain ws"),
        ("redis://cache.example.com:6379", "plain redis"),
        ("postgresql://db.example.com/app", "without requiring TLS"),
        ("postgresql://db.example.com/app?sslmode=verify-full", None),
        ("postgresql://db.example.com/app?sslmode=disable", "sslmode=disable"),
        ("not a url", None),
    ],
)
def test_outbound_urls(url: str, problem: str | None) -> None:
    got = url_problem(url, {"app", "localhost"})
    assert (got is None) if problem is None else (got is not None and problem in got)


def test_docker_socket_paths() -> None:
    assert exposes_engine_socket("/var/run/docker.sock")
    assert exposes_engine_socket("/var/run")
    assert exposes_engine_socket("/")
    assert exposes_engine_socket("/home/me/.docker/run/docker.sock")
    assert not exposes_engine_socket("/etc/ssl/certs/ca-certificates.crt")


CERT_DEFAULTS = {
    "environment": "auto",
    "productionEnvironmentValues": ["prod", "production"],
    "productionStacks": ["prod", "production", "prod-*", "*-prod", "*-production"],
}


@pytest.mark.parametrize(
    ("info", "config", "production"),
    [
        (StackInfo(stack="dev", config={"encrypted-platform:environment": "dev"}), {}, False),
        (StackInfo(stack="prod"), {}, True),
        (StackInfo(stack="eu-prod"), {}, True),
        (
            StackInfo(
                stack="live", project="encrypted-platform", config={"encrypted-platform:environment": "prod"}
            ),
            {},
            True,
        ),
        (StackInfo(stack="qa"), {"environment": "prod"}, True),
        (StackInfo(), {}, True),  # the engine said nothing: fail closed
    ],
)
def test_production_detection(info: StackInfo, config: dict[str, str], production: bool) -> None:
    assert is_production(info, {**CERT_DEFAULTS, **config})[0] is production


def test_stack_info_from_the_engine_environment() -> None:
    info = StackInfo.from_environment(
        {
            "PULUMI_STACK": "prod",
            "PULUMI_PROJECT": "p",
            "PULUMI_CONFIG": '{"p:environment": "prod"}',
            "PULUMI_DRY_RUN": "true",
        }
    )
    assert (info.stack, info.dry_run, info.config_value("environment")) == ("prod", True, "prod")


def test_decoding_keeps_unknowns_and_remembers_secrets() -> None:
    r = resource_from_json(
        urn="u",
        type_="t",
        name="n",
        properties={
            "a": "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
            "b": {
                "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                "value": "hunter2hunter2",
            },
            "c": 443.0,
            "__defaults": ["x"],
        },
    )
    assert is_unknown(r.props["a"]) and r.props["b"] == "hunter2hunter2" and r.props["c"] == 443
    assert "hunter2hunter2" in r.secrets and "__defaults" not in r.props


def test_exceptions_match_resource_and_subject_until_they_expire() -> None:
    res = Resource("urn:pulumi:dev::p::docker:index/container:Container::edge", "t", "edge", {})
    other = Resource("urn:pulumi:dev::p::docker:index/container:Container::app", "t", "app", {})
    findings = [
        Finding(res, "privileged", "p", "f", "privileged"),
        Finding(res, "ports", "p", "f", "ports"),
        Finding(other, "privileged", "p", "f", "privileged"),
    ]
    today = dt.date(2026, 6, 1)
    cfg = {"exceptions": [{"resource": "edge", "finding": "priv*", "reason": "reviewed by ops, ticket 42"}]}
    assert [(f.resource.name, f.key) for f in apply_exceptions(findings, cfg, today) if f.resource] == [
        ("edge", "ports"),
        ("app", "privileged"),
    ]
    expired = {
        "exceptions": [{"resource": "*", "reason": "reviewed by ops, ticket 42", "expires": "2026-05-31"}]
    }
    out = list(apply_exceptions(findings, expired, today))
    assert len(out) == 3 and all("expired on 2026-05-31" in f.problem for f in out)
