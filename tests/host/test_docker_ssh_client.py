"""The tests' docker-over-ssh client retries an idempotent request whose ssh session the far end
dropped, and never retries a POST. A real docker SDK client runs a stand-in `ssh` first on PATH:
each call is one session; the sessions listed in DROP end without a byte of answer (what a guest
sshd under load did once in CI), the others answer one HTTP request as dockerd would."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import requests

from tests.support.docker_ssh import ssh_docker_client

FAKE_SSH = r"""#!/usr/bin/env bash
set -euo pipefail
log=$FAKE_SSH_DIR/sessions
printf '%s\n' "$*" >>"$log"
session=$(wc -l <"$log")
if grep -qx "$session" "$FAKE_SSH_DIR/drop"; then
  exit 0
fi
request=""
while IFS= read -r line; do
  [ -n "$request" ] || request=$line
  [ "$line" = $'\r' ] && break
done
printf '%s\n' "$request" >>"$FAKE_SSH_DIR/requests"
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK'
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(FAKE_SSH)
    ssh.chmod(ssh.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "drop").write_text("")
    (tmp_path / "sessions").write_text("")
    (tmp_path / "requests").write_text("")
    monkeypatch.setenv("FAKE_SSH_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def lines(path: Path) -> list[str]:
    return [line.rstrip("\r") for line in path.read_text().splitlines()]


def test_a_get_is_retried_on_a_fresh_session_after_a_dropped_one(fake_ssh: Path) -> None:
    (fake_ssh / "drop").write_text("1\n2\n")
    client = ssh_docker_client("ssh://deploy@vm.test:2222", timeout=10, max_pool_size=2, version="1.41")
    assert client.api.ping() is True
    sessions = lines(fake_ssh / "sessions")
    assert len(sessions) == 3
    assert all(s == "-l deploy -p 2222 -- vm.test docker system dial-stdio" for s in sessions)
    assert lines(fake_ssh / "requests") == ["GET /v1.41/_ping HTTP/1.1"]


def test_a_post_is_never_retried(fake_ssh: Path) -> None:
    (fake_ssh / "drop").write_text("1\n")
    client = ssh_docker_client("ssh://vm.test:2222", timeout=10, max_pool_size=2, version="1.41")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.api.post(client.api._url("/containers/{0}/start", "smoke"))
    assert len(lines(fake_ssh / "sessions")) == 1
    assert lines(fake_ssh / "requests") == []


def test_a_host_that_keeps_dropping_still_fails(fake_ssh: Path) -> None:
    (fake_ssh / "drop").write_text("".join(f"{n}\n" for n in range(1, 10)))
    client = ssh_docker_client("ssh://vm.test:2222", timeout=10, max_pool_size=2, version="1.41")
    with pytest.raises(requests.exceptions.ConnectionError):
        client.api.ping()
    assert len(lines(fake_ssh / "sessions")) == 4  # the request and three retries


def test_only_ssh_urls() -> None:
    with pytest.raises(ValueError, match="ssh://"):
        ssh_docker_client("tcp://127.0.0.1:2375", timeout=10, max_pool_size=2)
