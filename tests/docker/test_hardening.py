"""Each service container as the engine runs it: the hardening the program declares, observed from
inside the container (kernel status, cgroup limits, filesystems) and in the engine's own view."""

from __future__ import annotations

import pytest

from components.settings import parse_settings
from components.settings.services import BUILTIN_SERVICES

from .conftest import Deployment

pytestmark = pytest.mark.docker

SERVICES = sorted(BUILTIN_SERVICES)


def status_field(text: str, name: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in /proc/self/status")


@pytest.mark.parametrize("service", SERVICES)
def test_engine_runs_the_container_as_declared(platform: Deployment, service: str) -> None:
    settings = parse_settings(platform.config).services[service]
    host = platform.container(service).attrs["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["NetworkMode"] not in ("host",) and not host["NetworkMode"].startswith("container:")
    assert host["PidMode"] == "" and host["IpcMode"] == "private" and host["UsernsMode"] == ""
    # No swap on top of the memory limit where the kernel can limit swap; -1 (what the daemon
    # stores) where it cannot, so the provider reads back what the program asked for.
    swap_limit = platform.lab.client.info()["SwapLimit"]
    assert host["Memory"] == settings.memory
    assert host["MemorySwap"] == (settings.memory if swap_limit else -1), (host["MemorySwap"], swap_limit)
    declared = next(
        r.plain("memorySwap")
        for r in platform.run.of_type("docker:index/container:Container")
        if r.plain("name") == f"encrypted-platform-{service}"
    )
    assert declared == (settings.memory // 1024**2 if swap_limit else -1)
    # Set after creation by the program's `docker update --pids-limit` Command.
    assert host["PidsLimit"] == settings.pids
    assert host["LogConfig"] == {"Type": "local", "Config": {"max-file": "3", "max-size": "10m"}}
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert not host.get("Binds")
    assert platform.container(service).status == "running"


@pytest.mark.parametrize("service", SERVICES)
def test_inside_no_capabilities_no_privilege_gain_and_a_read_only_root(
    platform: Deployment, service: str
) -> None:
    lab = platform.lab
    name = f"encrypted-platform-{service}"
    code, status = lab.exec(name, ["cat", "/proc/self/status"])
    assert code == 0
    assert status_field(status, "NoNewPrivs") == "1"
    for capability_set in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status_field(status, capability_set), 16) == 0, capability_set
    code, out = lab.exec(name, ["sh", "-c", "echo x > /etc/probe"])
    assert code != 0 and "Read-only file system" in out
    code, out = lab.exec(name, ["sh", "-c", "echo x > /tmp/probe && cat /tmp/probe"])
    assert code == 0 and out.strip() == "x", out
    code, mounts = lab.exec(name, ["cat", "/proc/mounts"])
    root = next(line.split() for line in mounts.splitlines() if line.split()[1] == "/")
    assert "ro" in root[3].split(",")


@pytest.mark.parametrize("service", SERVICES)
def test_inside_memory_and_process_limits_are_the_kernels(platform: Deployment, service: str) -> None:
    settings = parse_settings(platform.config).services[service]
    lab = platform.lab
    name = f"encrypted-platform-{service}"
    code, pids = lab.exec(
        name, ["sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"]
    )
    assert code == 0 and pids.strip() == str(settings.pids), pids
    code, memory = lab.exec(
        name,
        [
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
        ],
    )
    assert code == 0 and int(memory.strip()) == settings.memory, memory


def test_secrets_are_files_on_the_secrets_volume_never_environment(platform: Deployment) -> None:
    lab = platform.lab
    password = platform.outputs("random:index/randomPassword:RandomPassword", "secret-app-db-password")[
        "result"
    ]
    assert len(password) >= 32
    for service, uid in (("app-db", 70), ("webapp", 1000)):
        container = platform.container(service)
        name = container.name
        config = container.attrs["Config"]
        assert all(password not in entry for entry in config["Env"] or []), service
        assert password not in " ".join(config.get("Cmd") or []) and password not in str(config.get("Labels"))
        code, out = lab.exec(name, ["cat", "/run/secrets/app-db-password"])
        assert code == 0 and out == password, service
        code, out = lab.exec(name, ["stat", "-c", "%u %a", "/run/secrets/app-db-password"])
        assert out.split() == [str(uid), "400"], out
        code, out = lab.exec(name, ["sh", "-c", "echo x > /run/secrets/other"])
        assert code != 0 and "Read-only file system" in out
    # Services without the secret do not see it at all.
    code, _ = lab.exec("encrypted-platform-vector-store", ["ls", "/run/secrets/app-db-password"])
    assert code != 0
    # On the host the file sits in the secrets volume's root-owned binds directory, beside its
    # data directory (LUKS in production).
    secrets_dir = platform.lab.root / "encrypted" / "config-secrets" / "binds" / "services" / "app-db"
    assert (secrets_dir / "app-db-password").read_text() == password
