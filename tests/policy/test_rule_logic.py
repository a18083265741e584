"""Pure logic the rules share (no gRPC, no Pulumi runtime): the shell reader, LUKS facts, Traefik
parsing, the engine's stack information and property decoding, exceptions. Fast: unit tier. A
rule's own logic is tested in tests/policy/rules/<concern>/test_<rule>.py."""

from __future__ import annotations

import datetime as dt

import pytest
from analysis.luks import analyze_command
from analysis.rule import Finding, apply_exceptions
from analysis.shell_reading.expansion import parse_program
from analysis.shell_reading.wrappers import strip_wrappers
from analysis.stack import Resource, StackInfo, resource_from_json
from analysis.traefik import classify, env_tree, flags_tree, get, labels_tree, parse_config_text
from analysis.values import UNKNOWN, is_unknown

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
