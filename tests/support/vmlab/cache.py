"""The on-disk asset cache: entries keyed by a digest of their inputs (the build code itself is
one), built once under a lock and pruned when stale."""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .host import CACHE, log


def file_signature(path: Path) -> str:
    st = path.stat()
    return f"{path}:{st.st_size}:{st.st_mtime_ns}"


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode())
            digest.update(oct(path.stat().st_mode & 0o7777).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def digest(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if callable(part):
            part = inspect.getsource(part)  # the build code itself is an input
        digest.update(repr(part).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def cached(kind: str, key: str, build: Callable[[Path], None]) -> Path:
    """Returns CACHE/<kind>-<key>, building it once (under a lock, into a temporary directory
    renamed into place) when it is missing. Safe with several pytest processes at once."""
    final = CACHE / f"{kind}-{key}"
    if (final / ".complete").exists():
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{kind}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / ".complete").exists():
            return final
        work = Path(tempfile.mkdtemp(prefix=f".{kind}-{key}-", dir=CACHE))
        started = time.monotonic()
        try:
            build(work)
            seconds = time.monotonic() - started
            (work / ".complete").write_text(f"built in {seconds:.1f}s\n")
            if final.exists():
                shutil.rmtree(final)
            work.rename(final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        log.info("vmlab: built %s in %.1fs", final.name, seconds)
    _prune(kind, keep=final)
    return final


def _prune(kind: str, keep: Path, max_age_seconds: float = 86400.0) -> None:
    """Removes other cache entries of this kind (and abandoned build directories) untouched for
    a day: old enough that no test session still boots from them."""
    now = time.time()
    for path in CACHE.glob(f"*{kind}-*"):
        name = path.name.lstrip(".")
        same_kind = re.fullmatch(re.escape(kind) + r"-[0-9a-f]{16}(-.*)?", name)
        if path == keep or not same_kind or not path.is_dir():
            continue
        if now - path.stat().st_mtime > max_age_seconds:
            shutil.rmtree(path, ignore_errors=True)
