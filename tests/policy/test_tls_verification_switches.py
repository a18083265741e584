"""One table of TLS-verification switches, run against both readers: the settings (which refuse
them in a service's env and command) and the policy pack (outbound-tls, over the Analyzer
protocol and as pure logic). Both read platform_rules.tls_verification; these cases prove they
agree, including the two on which they used to disagree (OTEL_EXPORTER_OTLP_INSECURE and
DB_SSL_CERT_REQS)."""

from __future__ import annotations

from typing import Any

import pulumi_docker as docker
import pytest
from rules.in_transit.outbound_tls import disables_verification

from components.settings import SettingsError, parse_settings
from components.settings.services import BUILTIN_SERVICES
from platform_rules.tls_verification import argument_disabling_reason, env_disabling_reason
from tests.support.analyzer import PolicyPackProcess, capture, evaluate
from tests.support.programs.baseline import hardened, internal_network

pytestmark = pytest.mark.policy

ENV_CASES: list[tuple[str, str, bool]] = [
    ("NODE_TLS_REJECT_UNAUTHORIZED", "0", True),
    ("NODE_TLS_REJECT_UNAUTHORIZED", "1", False),
    ("PYTHONHTTPSVERIFY", "0", True),
    ("PYTHONHTTPSVERIFY", "1", False),
    ("OTEL_EXPORTER_OTLP_INSECURE", "true", True),
    ("OTEL_EXPORTER_OTLP_INSECURE", "false", False),
    ("DB_SSL_CERT_REQS", "CERT_NONE", True),
    ("DB_SSL_CERT_REQS", "CERT_REQUIRED", False),
    ("PGSSLMODE", "disable", True),
    ("PGSSLMODE", "prefer", True),
    ("DB_SSLMODE", "verify-full", False),
    ("LITELLM_SSL_VERIFY", "False", True),
    ("SSL_VERIFY", "true", False),
    ("SSL_VERIFY", "false", True),
    ("OAUTH_VERIFY_SSL", "no", True),
    ("sslVerify", "false", True),
    ("CHECK_HOSTNAME", "0", True),
    ("CURL_CA_BUNDLE", "", True),
    ("GIT_SSL_NO_VERIFY", "1", True),
    ("GIT_SSL_NO_VERIFY", "0", True),  # git only checks that the variable is set
    ("INSECURE_SKIP_VERIFY", "true", True),
    ("OIDC_TLS_INSECURE", "1", True),
    ("TLS_SKIP_VERIFY", "false", False),
    ("GODEBUG", "x509ignoreCN=1", True),
    ("GODEBUG", "http2client=0", False),
    ("ENABLE_WEBSOCKET_SUPPORT", "true", False),
    ("DATA_DIR", "/app/backend/data", False),
]
ARG_CASES: list[tuple[str, bool]] = [
    ("--insecure", True),
    ("-k", True),
    ("--no-check-certificate", True),
    ("--ssl_verify=false", True),
    ("--tls-verify=false", True),
    ("--tls-verify=true", False),
    ("--trusted-host", True),
    ("--port", False),
    ("4000", False),
]
ENV_IDS = [f"{n}={v or '(empty)'}" for n, v, _ in ENV_CASES]


def _settings_refuse_env(name: str, value: str) -> bool:
    services: dict[str, Any] = {s: {} for s in BUILTIN_SERVICES}
    services["webapp"] = {"env": {name: value}}
    try:
        parse_settings({"services": services})
    except SettingsError as error:
        mine = [p for p in error.problems if f"services.webapp.env.{name}:" in p]
        assert all("outbound TLS must be verified" in p for p in mine), mine
        return bool(mine)
    return False


def _settings_refuse_argument(argument: str) -> bool:
    services: dict[str, Any] = {s: {} for s in BUILTIN_SERVICES}
    services["llm-gateway"] = {"command": ["--port", "4000", argument]}
    try:
        parse_settings({"services": services})
    except SettingsError as error:
        return any("services.llm-gateway.command" in p for p in error.problems)
    return False


@pytest.mark.parametrize(("name", "value", "disabled"), ENV_CASES, ids=ENV_IDS)
def test_settings_and_pack_agree_on_environment_switches(name: str, value: str, disabled: bool) -> None:
    assert (env_disabling_reason(name, value) is not None) is disabled
    assert _settings_refuse_env(name, value) is disabled
    assert disables_verification(name, value) is disabled


@pytest.mark.parametrize(("argument", "disabled"), ARG_CASES)
def test_settings_and_pack_agree_on_arguments(argument: str, disabled: bool) -> None:
    assert (argument_disabling_reason(argument) is not None) is disabled
    assert _settings_refuse_argument(argument) is disabled


def _container_with(envs: list[str], command: list[str]) -> None:
    net = internal_network("app-net")
    docker.Container(
        "worker",
        **hardened(
            name="worker",
            envs=envs,
            command=command,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
        ),
    )


def test_the_pack_rejects_exactly_the_table_over_the_analyzer_protocol(pack: PolicyPackProcess) -> None:
    # Names are unique per container: one container per value of a repeated name.
    by_round: list[list[tuple[str, str, bool]]] = []
    for case in ENV_CASES:
        target = next((r for r in by_round if all(c[0] != case[0] for c in r)), None)
        if target is None:
            target = []
            by_round.append(target)
        target.append(case)
    for cases in by_round:
        envs = [f"{n}={v}" for n, v, _ in cases]
        command = ["/app/run", *[a for a, _ in ARG_CASES if a not in ("-k",)]]
        verdict = evaluate(
            capture(lambda envs=envs, command=command: _container_with(envs, command)), pack=pack
        )
        messages = [d.message for d in verdict.by_policy("outbound-tls")]
        for name, value, disabled in cases:
            hit = any(f"[env:{name}]" in m for m in messages)
            assert hit is disabled, (name, value, verdict.describe())
        for argument, disabled in ARG_CASES:
            if argument == "-k":
                continue  # given to /app/run, not curl: only curl's -k is insecure there
            hit = any(f"[flag:{argument}]" in m for m in messages)
            assert hit is disabled, (argument, verdict.describe())
