"""Mozilla TLS profiles checked by sslyze (and testssl.sh once) against the real Traefik running
the rendered configuration."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.edge.conftest import HOST
from tests.support.edgelab.http_probes import mozilla_tls_issues
from tests.support.edgelab.pki import TestPki
from tests.support.edgelab.traefik import TraefikInstance
from tests.support.net import LOOPBACK
from tests.support.processes import clean_env


def test_default_profile_is_mozilla_intermediate_compliant(
    custom_edge: TraefikInstance, pki: TestPki
) -> None:
    issues = mozilla_tls_issues(
        HOST, custom_edge.websecure_port, ca_file=pki.root_file, profile="intermediate"
    )
    assert issues == {}


def test_modern_profile_is_mozilla_modern_compliant(modern_edge: TraefikInstance, pki: TestPki) -> None:
    issues = mozilla_tls_issues(HOST, modern_edge.websecure_port, ca_file=pki.root_file, profile="modern")
    assert issues == {}


def test_the_checker_tells_the_profiles_apart(custom_edge: TraefikInstance, pki: TestPki) -> None:
    """TLS 1.2 (intermediate) is not 'modern': the same checker must say so."""
    issues = mozilla_tls_issues(HOST, custom_edge.websecure_port, ca_file=pki.root_file, profile="modern")
    assert "tls_versions" in issues, issues


def test_testssl_finds_only_tls_1_2_and_1_3_with_forward_secrecy_and_no_vulnerability(
    custom_edge: TraefikInstance, pki: TestPki, tmp_path: Path
) -> None:
    testssl = shutil.which("testssl") or shutil.which("testssl.sh")
    assert testssl, "testssl.sh is missing: apt-get install testssl.sh (listed in .ci/apt-packages)"
    report = tmp_path / "testssl.json"
    subprocess.run(
        [
            testssl,
            "--quiet",
            "--warnings",
            "off",
            "--color",
            "0",
            "--sneaky",
            "--ip",
            LOOPBACK,
            "--add-ca",
            str(pki.root_file),
            "--protocols",
            "--std",
            "--fs",
            "--vulnerable",
            "--jsonfile",
            str(report),
            f"{HOST}:{custom_edge.websecure_port}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
        check=False,
    )
    findings = {f["id"]: f for f in json.loads(report.read_text())}
    offered = {p: findings[p]["finding"] for p in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3")}
    assert offered["TLS1_2"].startswith("offered") and offered["TLS1_3"].startswith("offered"), offered
    for legacy in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
        assert offered[legacy].startswith("not offered"), offered
    bad = {
        i: f["finding"] for i, f in findings.items() if f["severity"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL")
    }
    assert bad == {}, bad
