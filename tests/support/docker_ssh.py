"""A docker SDK client for an engine reached over ssh://, as the tests' VMs are.

With `use_ssh_client=True` the SDK runs one `ssh HOST docker system dial-stdio` per request and
never retries. Under software emulation the guest's sshd now and then drops a new session
before it answers (seen once in CI: `RemoteDisconnected` on a GET right after a successful
POST), which would fail a test for a reason that has nothing to do with what it checks.

So idempotent requests (GET, HEAD, PUT, DELETE...) are retried on a fresh ssh session, a few
times with a short back-off; a POST is never retried, because the engine may have acted on it.
"""

from __future__ import annotations

from typing import Any

import docker
from urllib3.util.retry import Retry

# Three more attempts, 0.5 s, 1 s, 2 s apart: longer than any hiccup seen, short enough that a
# guest that is really gone still fails fast.
RETRY = Retry(total=3, connect=3, read=3, status=0, backoff_factor=0.5, raise_on_status=False)


def ssh_docker_client(base_url: str, *, timeout: int, max_pool_size: int, version: str | None = None) -> Any:
    if not base_url.startswith("ssh://"):
        raise ValueError(f"ssh_docker_client needs an ssh:// URL, got {base_url!r}")
    client = docker.DockerClient(
        base_url=base_url,
        use_ssh_client=True,
        timeout=timeout,
        max_pool_size=max_pool_size,
        **({"version": version} if version else {}),
    )
    client.api.get_adapter(client.api.base_url).max_retries = RETRY
    return client
