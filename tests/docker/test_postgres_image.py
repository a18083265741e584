"""The PostgreSQL test image (tests/support/images.py postgres_rootfs): Debian's real server in a
container run the way the platform runs app-db (uid 70, read-only root, no capabilities, tmpfs
for /tmp and the socket directory) with no network: initdb on an empty data directory, rows
written and read back by a new container on the same directory, clients over the unix socket;
TCP only when asked for, and then with the password from the secret file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from components.isolation.service import TMPFS_MODE
from tests.support.dockerlab import DockerLab
from tests.support.images import (
    POSTGRES_CHANGES,
    POSTGRES_SOCKET_DIR,
    POSTGRES_UID,
    POSTGRES_VERSION,
    postgres_rootfs,
)

from .conftest import wait_healthy

pytestmark = pytest.mark.needs("postgresql")

IMAGE = "ep-postgres:test"
DATA_MOUNT = "/var/lib/postgresql/data"  # the catalogue's app-db volume mount
PGDATA = f"{DATA_MOUNT}/pgdata"
SECRETS = "/run/secrets"
PASSWORD_FILE = f"{SECRETS}/app-db-password"
PASSWORD = "correct horse battery staple"
USER = DB = "platform"
TMPFS = {"/tmp": 64 << 20, POSTGRES_SOCKET_DIR: 8 << 20}  # the catalogue's app-db tmpfs
INITDB_BANNER = "The files belonging to this database system will be owned by user"
# The row count and a digest of every row, in id order.
SUMMARY = "SELECT count(*) || '|' || md5(string_agg(id || ':' || body, ',' ORDER BY id)) FROM notes"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerLab]:
    rootfs = postgres_rootfs(tmp_path_factory.mktemp("postgres") / "postgres.tar")
    with DockerLab.start() as lab:
        lab.import_image(rootfs, IMAGE, list(POSTGRES_CHANGES))
        yield lab


def owned_directory(path: Path, mode: int = 0o700) -> Path:
    path.mkdir(parents=True)
    os.chown(path, POSTGRES_UID, POSTGRES_UID)
    path.chmod(mode)
    return path


def secrets_directory(path: Path) -> Path:
    """The superuser's password file, and a libpq password file with that password for TCP."""
    owned_directory(path)
    for name, text in {
        "app-db-password": f"{PASSWORD}\n",
        "pgpass": f"127.0.0.1:5432:{DB}:{USER}:{PASSWORD}\n",
    }.items():
        (path / name).write_text(text)
        os.chown(path / name, POSTGRES_UID, POSTGRES_UID)
        (path / name).chmod(0o400)
    return path


def run_database(
    lab: DockerLab, data: Path, secrets: Path, env: dict[str, str] | None = None, **overrides: Any
) -> Any:
    options: dict[str, Any] = {
        "user": f"{POSTGRES_UID}:{POSTGRES_UID}",
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "mounts": [  # as the platform mounts them (components/isolation/service.py)
            docker.types.Mount(target, "", type="tmpfs", tmpfs_size=size, tmpfs_mode=TMPFS_MODE)
            for target, size in TMPFS.items()
        ],
        "environment": {
            "POSTGRES_USER": USER,
            "POSTGRES_DB": DB,
            "POSTGRES_PASSWORD_FILE": PASSWORD_FILE,
            "PGDATA": PGDATA,
            **(env or {}),
        },
        "volumes": {
            str(data): {"bind": DATA_MOUNT, "mode": "rw"},
            str(secrets): {"bind": SECRETS, "mode": "ro"},
        },
        "healthcheck": {
            "test": ["CMD", "pg_isready", "-h", POSTGRES_SOCKET_DIR, "-U", USER, "-d", DB],
            "interval": 1_000_000_000,
        },
        "detach": True,
    }
    options.update(overrides)
    return lab.client.containers.run(IMAGE, **options)


def psql(container: Any, sql: str) -> str:
    argv = ["psql", "-h", POSTGRES_SOCKET_DIR, "-U", USER, "-d", DB]
    result = container.exec_run([*argv, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
    output = result.output.decode(errors="replace")
    assert result.exit_code == 0, output
    return output.strip()


def stop(container: Any) -> str:
    container.stop(timeout=60)
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 0, container.logs().decode(errors="replace")
    return container.logs().decode(errors="replace")


def test_rows_survive_a_new_container_on_the_same_data_directory(lab: DockerLab, tmp_path: Path) -> None:
    data = owned_directory(tmp_path / "app-db")
    secrets = secrets_directory(tmp_path / "secrets")

    first = run_database(lab, data, secrets)
    wait_healthy(lab, first.name, timeout=180)
    assert psql(first, "SHOW server_version").startswith(f"{POSTGRES_VERSION}.")
    assert psql(first, "SHOW listen_addresses") == ""  # the socket only
    assert first.exec_run(["pg_isready", "-h", "127.0.0.1"]).exit_code == 2  # pg_isready: no response
    assert psql(first, "SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database WHERE datname = current_database()") == "UTF8|C"  # fmt: skip
    # initdb took the superuser's password from the file (and stored only its SCRAM verifier)
    assert (
        psql(first, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = current_user")
        == "t"
    )
    psql(first, "CREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL)")
    psql(first, "INSERT INTO notes SELECT n, 'row ' || n || ' ünïcödé' FROM generate_series(1, 1000) AS n")
    written = psql(first, SUMMARY)
    assert written.startswith("1000|")
    first_log = stop(first)
    assert INITDB_BANNER in first_log
    assert "database system is shut down" in first_log

    cluster = data / "pgdata"
    assert (cluster / "PG_VERSION").read_text().strip() == POSTGRES_VERSION
    assert (cluster.stat().st_uid, cluster.stat().st_gid) == (POSTGRES_UID, POSTGRES_UID)
    assert cluster.stat().st_mode & 0o777 == 0o700

    second = run_database(lab, data, secrets)
    wait_healthy(lab, second.name, timeout=180)
    assert psql(second, SUMMARY) == written
    assert psql(second, "SELECT body FROM notes WHERE id = 7") == "row 7 ünïcödé"
    second_log = stop(second)
    assert INITDB_BANNER not in second_log  # no second initialisation
    assert "database system was shut down at" in second_log  # it found the first one's clean shutdown


def test_a_password_in_the_environment_is_refused(lab: DockerLab, tmp_path: Path) -> None:
    data = owned_directory(tmp_path / "app-db")
    secrets = secrets_directory(tmp_path / "secrets")
    container = run_database(
        lab, data, secrets, {"POSTGRES_PASSWORD": "in-the-environment"}, healthcheck=None
    )
    assert container.wait(timeout=60)["StatusCode"] == 1
    assert "POSTGRES_PASSWORD is not read" in container.logs().decode(errors="replace")
    assert list(data.iterdir()) == []  # nothing initialised


def test_tcp_when_asked_for_with_the_password_from_the_file(lab: DockerLab, tmp_path: Path) -> None:
    data = owned_directory(tmp_path / "app-db")
    secrets = secrets_directory(tmp_path / "secrets")
    container = run_database(lab, data, secrets, {"POSTGRES_LISTEN_ADDRESSES": "127.0.0.1"})
    wait_healthy(lab, container.name, timeout=180)
    assert psql(container, "SHOW listen_addresses") == "127.0.0.1"
    tcp = f"host=127.0.0.1 port=5432 dbname={DB} user={USER}"
    query = ["-X", "-At", "-w", "-c", "SELECT inet_server_addr()"]
    with_password = container.exec_run(["psql", f"{tcp} passfile={SECRETS}/pgpass", *query])
    assert (with_password.exit_code, with_password.output.decode().strip()) == (0, "127.0.0.1")
    without = container.exec_run(["psql", f"{tcp} passfile=/dev/null", *query])
    assert without.exit_code == 2
    assert "no password supplied" in without.output.decode()
    stop(container)
