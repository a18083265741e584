"""The pack over the Analyzer protocol: what it declares, how config, exceptions, stack identity,
unknowns and secrets change its answers."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_random as random
import pytest
from google.protobuf import json_format

from tests.support.analyzer import (
    UNKNOWN,
    PolicyPackProcess,
    capture,
    encode,
    evaluate,
    reconcile_config,
    to_struct,
)
from tests.support.programs.baseline import (
    STATIC_CONFIG,
    app,
    compliant,
    edge,
    hardened,
    internal_network,
    luks_volume,
)

pytestmark = pytest.mark.policy

MANDATORY = {
    "encrypted-volumes",
    "no-host-paths",
    "tls-only-routes",
    "ingress-only-through-edge",
    "network-isolation",
    "outbound-tls",
    "security-headers",
    "certificates",
    "luks-parameters",
    "container-hardening",
    "luks-mount-points-intact",
    "luks-mount-reachable",
    "luks-on-volume-host",
    "luks-key-sources",
    "stateful-images-on-encrypted-volumes",
    "commands-create-no-workloads",
    "shell-programs-readable",
    "mount-propagation-private",
    "traefik-providers-visible",
    "websocket-routes-guarded",
    "backup-repository-tls",
    "backup-password-secret",
}
ADVISORY = {
    "image-pinned-by-digest",
    "healthchecks",
    "memory-limits",
    "read-only-root-filesystem",
    "capabilities-dropped",
    "pid-limits",
    "cpu-limits",
    "cgroup-parent-default",
    "backups-cover-stateful-volumes",
}


def two_privileged() -> None:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol, name="alpha", privileged=True)
    app(net, vol, name="beta", privileged=True)


def test_analyzer_info_declares_every_rule(pack: PolicyPackProcess) -> None:
    info = pack.analyzer_info()
    assert info.name == "encrypted-platform"
    assert info.supportsConfig
    levels = {p.name: p.enforcementLevel for p in info.policies}
    assert set(levels) == MANDATORY | ADVISORY
    from pulumi.runtime.proto import analyzer_pb2

    assert {n for n, lvl in levels.items() if lvl == analyzer_pb2.MANDATORY} == MANDATORY
    assert {n for n, lvl in levels.items() if lvl == analyzer_pb2.ADVISORY} == ADVISORY
    for p in info.policies:
        schema = json_format.MessageToDict(p.configSchema.properties)
        assert "exceptions" in schema and schema["exceptions"]["items"]["required"] == ["resource", "reason"]
        assert p.description


def test_engine_opening_sequence(pack: PolicyPackProcess) -> None:
    # pulumi_policy has no Handshake; the engine treats UNIMPLEMENTED as "no handshake".
    assert pack.handshake() is False
    assert pack.plugin_info().version


def test_resource_rules_answer_analyze_and_stack_rules_answer_analyze_stack(pack: PolicyPackProcess) -> None:
    def program() -> None:
        docker.Volume("pgdata")
        docker.Container("db", **hardened(name="db", privileged=True))

    verdict = evaluate(capture(program), pack=pack)
    phases = {(d.policy, d.phase) for d in verdict.mandatory()}
    assert ("container-hardening", "analyze") in phases
    assert ("encrypted-volumes", "stack") in phases
    assert all(d.urn.endswith("::db") or d.urn.endswith("::pgdata") for d in verdict.mandatory())


def test_enforcement_levels_from_pack_config(pack: PolicyPackProcess) -> None:
    captured = capture(two_privileged)
    assert evaluate(captured, pack=pack).by_policy("container-hardening")
    advisory = evaluate(captured, file_config={"all": "advisory"}, pack=pack)
    assert advisory.by_policy("container-hardening") and not advisory.mandatory()
    disabled = evaluate(captured, file_config={"container-hardening": "disabled"}, pack=pack)
    assert not disabled.by_policy("container-hardening")
    stricter = evaluate(captured, file_config={"healthchecks": {"enforcementLevel": "mandatory"}}, pack=pack)
    assert stricter.by_policy("healthchecks") == []  # the containers have healthchecks
    no_hc = capture(
        lambda: docker.Container("bare", **hardened(name="bare", healthcheck=None, networks_advanced=[]))
    )
    assert (
        evaluate(no_hc, file_config={"healthchecks": "mandatory"}, pack=pack)
        .by_policy("healthchecks")[0]
        .level
        == "mandatory"
    )


def test_exception_suppresses_only_what_it_names(pack: PolicyPackProcess) -> None:
    captured = capture(two_privileged)
    reason = "alpha runs the storage benchmark; reviewed by ops on 2026-01-10"
    one = evaluate(
        captured,
        pack=pack,
        file_config={
            "container-hardening": {
                "exceptions": [{"resource": "alpha", "finding": "privileged", "reason": reason}]
            }
        },
    )
    names = {d.resource_name for d in one.by_policy("container-hardening")}
    assert names == {"beta"}
    expired = evaluate(
        captured,
        pack=pack,
        file_config={
            "container-hardening": {
                "exceptions": [{"resource": "*", "reason": reason, "expires": "2020-01-01"}]
            }
        },
    )
    messages = [d.message for d in expired.by_policy("container-hardening")]
    assert len(messages) == 2 and all("exception expired on 2020-01-01" in m for m in messages)
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    all_suppressed = evaluate(
        captured,
        pack=pack,
        file_config={
            "container-hardening": {
                "exceptions": [{"resource": "urn:pulumi:*", "reason": reason, "expires": future}]
            }
        },
    )
    assert not all_suppressed.by_policy("container-hardening")


def test_engine_rejects_exception_without_reason(pack: PolicyPackProcess) -> None:
    info = pack.analyzer_info()
    _, errors = reconcile_config(info, {"no-host-paths": {"exceptions": [{"resource": "app"}]}})
    assert any("reason" in e for e in errors)
    _, errors = reconcile_config(info, {"ingress-only-through-edge": {"publishedPorts": ["443"]}})
    assert errors


def test_misspelt_setting_is_a_violation(pack: PolicyPackProcess) -> None:
    verdict = evaluate(
        capture(compliant), pack=pack, file_config={"no-host-paths": {"allowedReadonlyFiles": ["/etc/hosts"]}}
    )
    problems = [d for d in verdict.mandatory() if "not a setting of this policy" in d.message]
    assert problems and problems[0].policy == "no-host-paths" and problems[0].urn == ""


def test_production_comes_from_the_stack_the_engine_names(pack: PolicyPackProcess) -> None:
    staging = "https://acme-staging-v02.api.letsencrypt.org/directory"
    acme = f"certificatesResolvers:\n  le:\n    acme:\n      caServer: {staging}\n      httpChallenge: {{entryPoint: web}}\n"

    def program() -> None:
        net = internal_network("app-net")
        _cmd, vol = luks_volume("appdata")
        app(net, vol)
        edge(net, static=STATIC_CONFIG + acme)

    assert not evaluate(capture(program, stack="dev"), pack=pack).by_policy("certificates")
    assert evaluate(capture(program, stack="prod"), pack=pack).by_policy("certificates")
    assert evaluate(capture(program, stack="eu-1", config={"environment": "prod"}), pack=pack).by_policy(
        "certificates"
    )
    forced = evaluate(
        capture(program, stack="qa"), pack=pack, file_config={"certificates": {"environment": "prod"}}
    )
    assert forced.by_policy("certificates")


def test_unknown_value_a_rule_needs_fails_closed(pack: PolicyPackProcess) -> None:
    def program() -> None:
        flag = random.RandomPassword("flag", length=4)
        net = internal_network("app-net")
        _cmd, vol = luks_volume("appdata")
        app(net, vol, privileged=flag.result.apply(lambda r: len(r) > 8))

    preview = evaluate(capture(program, preview=True), pack=pack)
    findings = preview.by_policy("container-hardening")
    assert findings and "privileged: is unknown at preview" in findings[0].message
    assert findings[0].level == "mandatory"
    assert not evaluate(capture(program, preview=False), pack=pack).by_policy("container-hardening")


def test_unknown_that_cannot_matter_passes(pack: PolicyPackProcess) -> None:
    """A volume without an explicit name: its name (and so the container's mount source) is unknown
    at preview, but the mount can only be that volume, which is on LUKS."""

    def program() -> None:
        net = internal_network("app-net")
        cmd, _ = luks_volume("appdata")
        vol = docker.Volume(
            "unnamed",
            driver="local",
            driver_opts={"type": "none", "o": "bind", "device": "/srv/appdata/data/unnamed"},
            opts=pulumi.ResourceOptions(depends_on=[cmd]),
        )
        app(net, vol, name="consumer")

    for preview in (True, False):
        verdict = evaluate(capture(program, preview=preview), pack=pack)
        assert not verdict.mandatory(), verdict.describe()


def test_outputs_the_program_never_set_are_provider_defaults(pack: PolicyPackProcess) -> None:
    """AnalyzeStack carries outputs; at preview an attribute the program did not set but the
    provider computes is unknown there. The pack remembers the inputs Analyze saw."""
    encoded = encode(capture(compliant, preview=True))
    stack = copy.deepcopy(encoded.stack)
    for r in stack.resources:
        if r.urn.endswith("::app"):
            props: dict[str, Any] = json_format.MessageToDict(r.properties)
            assert "networkMode" not in props
            props["networkMode"] = UNKNOWN
            r.properties.CopyFrom(to_struct(props))
    pack.configure(None)
    pack.configure_stack()
    for req in encoded.analyze:
        pack.analyze(req)
    assert not [d for d in pack.analyze_stack(stack) if d.level == "mandatory"]
    # Without the Analyze calls the pack cannot tell: the unknown could be anything.
    alone = pack.analyze_stack(stack)
    assert [d for d in alone if d.policy == "network-isolation" and "networkMode" in d.message]


def test_secret_inputs_are_still_checked_and_never_echoed(pack: PolicyPackProcess) -> None:
    def program() -> None:
        net = internal_network("app-net")
        _cmd, vol = luks_volume("appdata")
        app(net, vol, command=["curl", "--insecure", "https://feeds.example.com/"])

    plain = evaluate(capture(program), pack=pack).by_policy("outbound-tls")
    assert plain and "'--insecure'" in plain[0].message
    secret = evaluate(capture(program), pack=pack, all_secret=True).by_policy("outbound-tls")
    assert secret and "--insecure" not in secret[0].message and "[secret]" in secret[0].message


def test_key_from_stdin_is_never_in_messages(pack: PolicyPackProcess) -> None:
    passphrase = "orchard-violet-quantum-7731"

    def program() -> None:
        from tests.support.programs.baseline import luks_program

        net = internal_network("app-net")
        text = luks_program("/dev/vdb", "appdata", "/srv/appdata").replace(
            "IFS= read -r KEY", f"KEY='{passphrase}'"
        )
        cmd = __import__("pulumi_command").local.Command(
            "appdata-luks", create=text, stdin=pulumi.Output.secret(passphrase)
        )
        vol = docker.Volume(
            "appdata",
            name="appdata",
            driver="local",
            driver_opts={"type": "none", "o": "bind", "device": "/srv/appdata/data"},
            opts=pulumi.ResourceOptions(depends_on=[cmd]),
        )
        app(net, vol)

    verdict = evaluate(capture(program, preview=False), pack=pack)
    findings = verdict.by_policy("luks-parameters")
    assert any("contains the key material" in d.message for d in findings), verdict.describe()
    assert all(passphrase not in d.message for d in verdict.diagnostics)


def test_pack_survives_an_unexpected_property_shape(pack: PolicyPackProcess) -> None:
    """A value of a shape no rule expects must not pass silently: the rule reports, never crashes the run."""
    encoded = encode(capture(compliant, preview=True))
    for req in encoded.analyze:
        if req.urn.endswith("::app"):
            props = json_format.MessageToDict(req.properties)
            props["mounts"] = "not-a-list"
            req.properties.CopyFrom(to_struct(props))
    pack.configure(None)
    pack.configure_stack()
    diags = [d for req in encoded.analyze for d in pack.analyze(req)]
    assert not [d for d in diags if "could not evaluate" in d.message]
    assert [d for d in diags if d.policy == "no-host-paths" and d.resource_name == "app"]


def test_non_internal_overlay_only_for_roles_the_config_opens(pack: PolicyPackProcess) -> None:
    def program() -> None:
        docker.Network(
            "swarm-egress",
            name="swarm-egress",
            driver="overlay",
            options={"encrypted": "true"},
            labels=[docker.NetworkLabelArgs(label="encrypted-platform.network.role", value="egress")],
        )

    captured = capture(program)
    assert evaluate(captured, pack=pack).by_policy("network-isolation")
    opened = {"network-isolation": {"nonInternalOverlayRoles": ["egress"]}}
    assert not evaluate(captured, pack=pack, file_config=opened).by_policy("network-isolation")
