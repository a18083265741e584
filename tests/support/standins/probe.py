"""Network probes run inside containers (`python3 -I -S probe.py ...`), stdlib only.

  probe.py tcp HOST PORT [TIMEOUT]   prints open | refused | timeout | unreachable | error:<errno>
  probe.py http URL [TIMEOUT]        prints the status code and the first body line, or the error
  probe.py resolve NAME              prints the addresses Docker's DNS gives for NAME, or 'nxdomain'
  probe.py tcp-many TIMEOUT HOST:PORT...   one 'HOST:PORT result' line per target, probed in parallel
  probe.py resolve-many NAME...             one 'NAME addresses|nxdomain' line per name, in parallel

Exit status is 0 whatever the outcome; the printed word is the result.
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
import urllib.error
import urllib.request


def tcp(host: str, port: int, timeout: float) -> str:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "unreachable"
        if isinstance(exc, socket.gaierror):
            return "nxdomain"
        return f"error:{exc.errno}"


def http(url: str, timeout: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - test probe
            return f"{response.status} {response.read().decode(errors='replace').splitlines()[0]}"
    except urllib.error.HTTPError as exc:
        return f"{exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"error {getattr(exc, 'reason', exc)}"


def resolve(name: str) -> str:
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror:
        return "nxdomain"
    return " ".join(sorted({str(info[4][0]) for info in infos}))


def main(argv: list[str]) -> None:
    kind = argv[0]
    if kind == "tcp":
        print(tcp(argv[1], int(argv[2]), float(argv[3]) if len(argv) > 3 else 2.0))
    elif kind == "http":
        print(http(argv[1], float(argv[2]) if len(argv) > 2 else 3.0))
    elif kind == "tcp-many":
        timeout = float(argv[1])
        targets = argv[2:]
        results: dict[str, str] = {}

        def run(target: str) -> None:
            host, _, port = target.rpartition(":")
            results[target] = tcp(host, int(port), timeout)

        threads = [threading.Thread(target=run, args=(t,)) for t in targets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for target in targets:
            print(f"{target} {results[target]}")
    elif kind == "resolve-many":
        answers: dict[str, str] = {}

        def lookup(name: str) -> None:
            answers[name] = resolve(name)

        workers = [threading.Thread(target=lookup, args=(n,)) for n in argv[1:]]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        for name in argv[1:]:
            print(f"{name} {answers[name]}")
    elif kind == "resolve":
        print(resolve(argv[1]))
    else:
        raise SystemExit(f"unknown probe {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
