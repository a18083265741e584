"""The audit's HTML page as a browser shows it: headless Chromium (Debian's `chromium`) renders a
page to a PNG and reports what the page wrote to its console. The docs' screenshot is made with
it from a saved JSON report, and the render test uses it to prove the page shows with no console
message:

    python -m scripts.audit.browser REPORT.json OUT.png [WIDTHxHEIGHT]
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import Control
from .report import SCHEMA, Report, render_html

# Chromium's log line for a message the page wrote to its console (any level), with
# --enable-logging=stderr: `[pid:tid:date:INFO:CONSOLE(12)] "text", source: URL (12)` (older
# builds) or `...:INFO:CONSOLE:12] "text", source: URL (12)`.
_CONSOLE = re.compile(r":CONSOLE[(:]\d*\)?\] (?P<message>.*)$", re.MULTILINE)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class BrowserError(Exception):
    pass


@dataclass(frozen=True)
class Rendered:
    png: bytes
    console: tuple[str, ...]  # what the page wrote to its console, one entry per message

    @property
    def size(self) -> tuple[int, int]:
        """The PNG's width and height (its IHDR chunk)."""
        return int.from_bytes(self.png[16:20], "big"), int.from_bytes(self.png[20:24], "big")


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError("chromium not found: apt-get install chromium (Debian's package)")


def render(page: Path, *, width: int = 1280, height: int = 1600, timeout: float = 120) -> Rendered:
    """Renders a local HTML file headless, in a throw-away profile, with no network: the page must
    be self-contained."""
    with tempfile.TemporaryDirectory(prefix="audit-browser-") as scratch:
        png = Path(scratch) / "page.png"
        argv = [
            chromium(),
            "--headless",
            "--no-sandbox",  # root in a container has no user namespace for the sandbox
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={scratch}/profile",
            "--proxy-server=127.0.0.1:9",  # nothing outside the page may load
            "--enable-logging=stderr",
            "--v=0",
            f"--window-size={width},{height}",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ]
        try:
            result = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise BrowserError(f"chromium did not render {page}: {error}") from error
        stderr = result.stderr.decode(errors="replace")
        if result.returncode != 0 or not png.exists():
            raise BrowserError(f"chromium failed on {page} (exit {result.returncode}): {stderr[-2000:]}")
        data = png.read_bytes()
    if not data.startswith(PNG_MAGIC):
        raise BrowserError("chromium wrote something that is not a PNG")
    return Rendered(data, tuple(m.group("message") for m in _CONSOLE.finditer(stderr)))


def report_from_json(document: dict[str, Any]) -> Report:
    """A report back from its JSON document (render_json's)."""
    if document.get("schema") != SCHEMA:
        raise BrowserError(f"not an audit report of schema {SCHEMA}")
    controls = tuple(
        Control(
            id=c["id"],
            concern=c["concern"],
            promise=c["promise"],
            status=c["status"],
            summary=c["summary"],
            details=c.get("details") or {},
        )
        for c in document["controls"]
    )
    return Report(document["stack"], document["generatedAt"], document.get("host"), controls)


def screenshot(report_json: Path, out: Path, width: int = 1280, height: int = 1600) -> Rendered:
    report = report_from_json(json.loads(report_json.read_text()))
    with tempfile.TemporaryDirectory(prefix="audit-page-") as scratch:
        page = Path(scratch) / "audit.html"
        page.write_text(render_html(report))
        rendered = render(page, width=width, height=height)
    if rendered.console:
        raise BrowserError(f"the page wrote to the console: {list(rendered.console)}")
    out.write_bytes(rendered.png)
    return rendered


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    width, height = 1280, 1600
    if len(argv) == 3:
        match = re.fullmatch(r"(\d{3,4})x(\d{3,5})", argv[2])
        if not match:
            print(f"not WIDTHxHEIGHT: {argv[2]!r}", file=sys.stderr)
            return 2
        width, height = int(match.group(1)), int(match.group(2))
    try:
        rendered = screenshot(Path(argv[0]), Path(argv[1]), width, height)
    except (BrowserError, OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{argv[1]}: {rendered.size[0]}x{rendered.size[1]} PNG, no console message", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
