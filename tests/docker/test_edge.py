"""The edge as the program declares it: routes to the web app (page and WebSocket event stream), a
dev CA, published on free high ports of the lab host. Checked over TLS from the lab host and from
inside the edge container."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.sync.client import connect as websocket_connect

from components.isolation.network import link_network_name
from components.settings import parse_settings
from components.settings.services import BUILTIN_SERVICES

from .conftest import (
    EDGE_HOST,
    ORIGIN,
    Deployment,
    edge_settings,
    start_deployment,
    stop_deployment,
    wait_healthy,
)

pytestmark = pytest.mark.docker

SERVICES = sorted(BUILTIN_SERVICES)
EDGE = "encrypted-platform-edge"


@pytest.fixture(scope="module")
def edge_platform(rootfs: dict[str, Path]) -> Iterator[Deployment]:
    deployment = start_deployment(rootfs, edge=edge_settings)
    try:
        # Traefik answers once it has loaded its configuration: its healthcheck says when.
        wait_healthy(deployment.lab, EDGE)
        wait_healthy(deployment.lab, "encrypted-platform-webapp")
    except BaseException:
        stop_deployment(deployment)
        raise
    yield deployment
    stop_deployment(deployment)


def tls_context(deployment: Deployment) -> ssl.SSLContext:
    ca = deployment.outputs("tls:index/selfSignedCert:SelfSignedCert", "edge-dev-ca")["certPem"]
    context = ssl.create_default_context(cadata=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def https_request(
    deployment: Deployment, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request over TLS to the edge's published port on the lab host's 127.0.0.1,
    verified against the dev CA for EDGE_HOST (no name resolution anywhere)."""
    port = deployment.config["edge"]["ports"]["https"]
    context = tls_context(deployment)

    def exchange() -> tuple[int, dict[str, str], bytes]:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=EDGE_HOST) as tls,
        ):
            lines = [
                f"{method} {path} HTTP/1.1",
                f"Host: {EDGE_HOST}",
                "Connection: close",
                "Content-Length: 0",
            ]
            lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
            tls.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode().split("\r\n")
        parsed = {}
        for line in header_lines:
            key, _, value = line.partition(":")
            parsed[key.strip().lower()] = value.strip()
        return int(status_line.split()[1]), parsed, body

    return deployment.lab.run_in_netns(exchange)


def test_a_tls_request_through_the_edge_reaches_the_web_app_on_its_internal_network(
    edge_platform: Deployment,
) -> None:
    status, headers, body = https_request(edge_platform, "GET", "/")
    assert status == 200, body
    answer = json.loads(body)
    assert answer["service"] == "webapp" and answer["port"] == 8080
    # It came through Traefik (which terminated TLS), from the edge's address on the link network.
    assert answer["headers"].get("X-Forwarded-Proto") == "https"
    edge_ip = edge_platform.lab.client.containers.get(EDGE).attrs["NetworkSettings"]["Networks"][
        link_network_name("edge", "webapp")
    ]["IPAddress"]
    assert answer["peer"] == edge_ip
    assert "strict-transport-security" in headers


def test_the_websocket_event_stream_needs_a_session_and_echoes_through_the_edge(
    edge_platform: Deployment,
) -> None:
    status, headers, _ = https_request(edge_platform, "POST", "/login")
    assert status == 200
    cookie = headers["set-cookie"].split(";", 1)[0]
    port = edge_platform.config["edge"]["ports"]["https"]
    context = tls_context(edge_platform)

    def echo(with_cookie: bool, origin: str = ORIGIN) -> str:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        extra = {"Cookie": cookie} if with_cookie else {}
        try:
            with websocket_connect(
                f"wss://{EDGE_HOST}/ws",
                sock=sock,
                ssl=context,
                server_hostname=EDGE_HOST,
                origin=origin,
                additional_headers=extra,
                open_timeout=10,
            ) as ws:
                ws.send("hello through the edge")
                return str(ws.recv(timeout=10))
        except Exception as exc:  # noqa: BLE001 - the refusal is the result
            return f"refused: {exc}"

    assert edge_platform.lab.run_in_netns(lambda: echo(True)) == "hello through the edge"
    assert edge_platform.lab.run_in_netns(lambda: echo(False)).startswith("refused")
    assert edge_platform.lab.run_in_netns(lambda: echo(True, "https://evil.example.test")).startswith(
        "refused"
    )


def test_the_daemon_stores_the_capabilities_as_the_program_spells_them(edge_platform: Deployment) -> None:
    """The docker provider reads CapAdd/CapDrop back verbatim and compares them with the program's
    inputs; any other spelling would show a change, and replace the edge, after every refresh."""
    (edge,) = [
        r for r in edge_platform.run.of_type("docker:index/container:Container") if r.plain("name") == EDGE
    ]
    declared = edge.plain("capabilities")
    host = edge_platform.container("edge").attrs["HostConfig"]
    assert host["CapAdd"] == declared["adds"] and host["CapDrop"] == declared["drops"], (host, declared)


def test_the_edge_runs_with_its_pid_limit(edge_platform: Deployment) -> None:
    """Set after creation by the edge's `docker update --pids-limit` Command."""
    pids = parse_settings(edge_platform.config).edge.pids
    assert edge_platform.container("edge").attrs["HostConfig"]["PidsLimit"] == pids


def listening_tcp_ports(deployment: Deployment) -> set[int]:
    """TCP ports in LISTEN state in the lab host's network namespace (its /proc/net/tcp{,6})."""

    def read() -> set[int]:
        ports = set()
        for table in ("tcp", "tcp6"):
            lines = Path(f"/proc/thread-self/net/{table}").read_text().splitlines()[1:]
            for line in lines:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return ports

    return deployment.lab.run_in_netns(read)


def test_only_the_edge_publishes_and_only_its_two_ports_answer_on_the_host(edge_platform: Deployment) -> None:
    ports = edge_platform.config["edge"]["ports"]
    published = {}
    for container in edge_platform.lab.client.containers.list():
        bindings = container.attrs["HostConfig"].get("PortBindings") or {}
        if bindings:
            published[container.name] = bindings
    assert set(published) == {EDGE}
    host_ports = {int(b["HostPort"]) for bindings in published[EDGE].values() for b in bindings}
    assert host_ports == {ports["http"], ports["https"]}
    assert listening_tcp_ports(edge_platform) == {ports["http"], ports["https"]}
    for port in (ports["http"], ports["https"]):
        assert edge_platform.lab.port_open("127.0.0.1", port)


def test_the_edge_reaches_only_the_services_it_routes_to(edge_platform: Deployment) -> None:
    settings = parse_settings(edge_platform.config)
    routed = {route.service for route in settings.edge.routes.values()}
    targets = []
    for service in SERVICES:
        port = settings.services[service].port
        for network, ip in edge_platform.addresses(service).items():
            targets.append((service, network, ip, port))
    script = " ".join(f"{ip}:{port}" for _, _, ip, port in targets)
    code, out = edge_platform.lab.exec(
        EDGE,
        [
            "sh",
            "-c",
            f'for t in {script}; do if nc -w 1 "${{t%:*}}" "${{t#*:}}" </dev/null >/dev/null 2>&1; '
            'then echo "$t open"; else echo "$t closed"; fi; done',
        ],
    )
    assert code == 0, out
    results = dict(line.split() for line in out.splitlines())
    opened = []
    for service, network, ip, port in targets:
        result = results[f"{ip}:{port}"]
        if service in routed and network == link_network_name("edge", service):
            assert result == "open", (service, network)
            opened.append(service)
        else:
            assert result == "closed", (service, network, ip)
    assert sorted(opened) == sorted(routed)
