"""Why the pack judges one static source only: the real Traefik reads its static configuration
from ONE place (the configuration file, else the flags, else TRAEFIK_* variables) and ignores the
others. The configurations below are the violating programs' own
(tests/support/programs/tls_only_routes_traefik_sources.py), moved to loopback; each serves plain HTTP although
another source claims TLS on the `web` entrypoint."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.edgelab.backends import HttpBackend, start_echo_backend
from tests.support.edgelab.http_probes import Response, client_context, request
from tests.support.edgelab.traefik import traefik_binary
from tests.support.net import LOOPBACK, free_port
from tests.support.processes import clean_env, stop_process, wait_until
from tests.support.programs import tls_only_routes_traefik_sources as programs

HOST = "app.example.test"
DEFAULT_LOCATIONS = [
    Path(f"{base}.{ext}")
    for base in ("/etc/traefik/traefik", "/traefik")  # /traefik: $XDG_CONFIG_HOME is unset
    for ext in ("toml", "yaml", "yml")
]


class Loopback:
    """Ports, directories and a backend for one Traefik run; rewrites the programs' container
    addresses and paths to them."""

    def __init__(self, workdir: Path, backend_port: int) -> None:
        self.workdir = workdir
        self.web, self.websecure = free_port(), free_port()
        self.dynamic = workdir / "dynamic"
        self.dynamic.mkdir()
        self.backend_port = backend_port

    def rewrite(self, text: str) -> str:
        return (
            text.replace('":80"', f'"{LOOPBACK}:{self.web}"')
            .replace('":443"', f'"{LOOPBACK}:{self.websecure}"')
            .replace("=:80", f"={LOOPBACK}:{self.web}")
            .replace("=:443", f"={LOOPBACK}:{self.websecure}")
            .replace("/etc/traefik/dynamic", str(self.dynamic))
            .replace("http://app:8080", f"http://{LOOPBACK}:{self.backend_port}")
        )

    def write(self, name: str, content: str) -> Path:
        path = self.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.rewrite(content))
        return path


@pytest.fixture(scope="module")
def backend() -> Iterator[HttpBackend]:
    echo = start_echo_backend("app")
    yield echo
    echo.close()


@pytest.fixture(autouse=True)
def no_default_configuration_file_on_this_machine() -> None:
    found = [p for p in DEFAULT_LOCATIONS if p.exists()]
    assert not found, f"Traefik would load {found[0]} (a default location) in every run below"


def run_traefik(
    loop: Loopback, args: Sequence[str], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    output = open(loop.workdir / "traefik.out", "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [str(traefik_binary()), *[loop.rewrite(a) for a in args]],
        stdout=output,
        stderr=subprocess.STDOUT,
        env=clean_env(HOME=str(loop.workdir), **{k: loop.rewrite(v) for k, v in (env or {}).items()}),
        cwd=loop.workdir,
    )
    output.close()
    return process


def plain_answer(loop: Loopback, process: subprocess.Popen[bytes]) -> Response:
    """The first answer to a plain-text request on the web entrypoint once the route is loaded."""

    def probe() -> Response | None:
        if process.poll() is not None:
            raise RuntimeError((loop.workdir / "traefik.out").read_text()[-2000:])
        try:
            response = request(loop.web, HOST, "/", timeout=3)
        except OSError:
            return None
        return None if response.status == 404 else response

    return wait_until(probe, timeout=30, interval=0.2, what="an answer on the web entrypoint")


def served_by_backend(response: Response) -> bool:
    """200 from the echo backend."""
    return response.status == 200 and json.loads(response.body)["backend"] == "app"


def answer(loop: Loopback, args: Sequence[str], env: dict[str, str] | None = None) -> Response:
    process = run_traefik(loop, args, env)
    try:
        return plain_answer(loop, process)
    finally:
        stop_process(process)


def test_a_flag_claiming_tls_is_ignored_next_to_a_configuration_file(
    tmp_path: Path, backend: HttpBackend
) -> None:
    loop = Loopback(tmp_path, backend.port)
    static = loop.write("static/traefik.yml", programs.PLAIN_WEB_STATIC)
    loop.write("dynamic/routes.yml", programs.WEB_ROUTER_DYNAMIC)
    response = answer(loop, [f"--configFile={static}", programs.WEB_TLS_FLAG])
    assert served_by_backend(response) and response.tls_version is None, response


def test_a_variable_claiming_tls_is_ignored_next_to_a_configuration_file(
    tmp_path: Path, backend: HttpBackend
) -> None:
    loop = Loopback(tmp_path, backend.port)
    static = loop.write("static/traefik.yml", programs.PLAIN_WEB_STATIC)
    loop.write("dynamic/routes.yml", programs.WEB_ROUTER_DYNAMIC)
    name, _, value = programs.WEB_TLS_VARIABLE.partition("=")
    response = answer(loop, [f"--configFile={static}"], env={name: value})
    assert served_by_backend(response) and response.tls_version is None, response


def test_the_same_flag_does_make_web_tls_when_the_flags_are_the_source(
    tmp_path: Path, backend: HttpBackend
) -> None:
    """The contrast: without a file, Traefik applies the flag and web speaks TLS only."""
    loop = Loopback(tmp_path, backend.port)
    loop.write("dynamic/routes.yml", programs.WEB_ROUTER_DYNAMIC)
    process = run_traefik(loop, [*programs.PLAIN_WEB_FLAGS, programs.WEB_TLS_FLAG])
    try:
        unverified = client_context(None)  # Traefik's default certificate: TLS is all we check

        def over_tls() -> Response | None:
            response = request(loop.web, HOST, "/", tls=unverified, timeout=3)
            return response if response.status == 200 else None

        served = wait_until(over_tls, timeout=30, interval=0.2, what="the route over TLS on web")
        assert served_by_backend(served)
        # In clear text the router (TLS now) matches nothing: Traefik's 404, never the backend.
        plain = request(loop.web, HOST, "/", timeout=3)
        assert plain.status == 404 and b"404 page not found" in plain.body, plain
    finally:
        stop_process(process)


def test_a_file_traefik_does_not_read_cannot_make_web_tls_when_the_flags_apply(
    tmp_path: Path, backend: HttpBackend
) -> None:
    """The reverse: the file claiming TLS is at a path Traefik never reads (no --configFile, not
    a default location); the flags apply and leave web plain."""
    loop = Loopback(tmp_path, backend.port)
    loop.write(programs.IGNORED_STATIC_PATH.lstrip("/"), programs.TLS_CLAIMING_STATIC)
    loop.write("dynamic/routes.yml", programs.WEB_ROUTER_DYNAMIC)
    response = answer(loop, programs.PLAIN_WEB_FLAGS)
    assert served_by_backend(response) and response.tls_version is None, response


def test_a_missing_configuration_file_falls_back_to_the_flags(tmp_path: Path, backend: HttpBackend) -> None:
    loop = Loopback(tmp_path, backend.port)
    loop.write("etc/traefik/prod.yml", programs.TLS_CLAIMING_STATIC)
    loop.write("dynamic/routes.yml", programs.WEB_ROUTER_DYNAMIC)
    response = answer(
        loop, [f"--configFile={tmp_path}/etc/traefik/traefik-prod.yml", *programs.PLAIN_WEB_FLAGS]
    )
    assert served_by_backend(response) and response.tls_version is None, response


def test_a_configuration_file_in_the_working_directory_is_found_without_a_flag(
    tmp_path: Path, backend: HttpBackend
) -> None:
    """./traefik.yml is a default location: it wins over flags that would have made web TLS."""
    loop = Loopback(tmp_path, backend.port)
    loop.write("traefik.yml", programs.PLAIN_WEB_STATIC)
    loop.write("dynamic/routes.yml", programs.WEB_ROUTER_DYNAMIC)
    response = answer(loop, [*programs.PLAIN_WEB_FLAGS, programs.WEB_TLS_FLAG])
    assert served_by_backend(response) and response.tls_version is None, response
