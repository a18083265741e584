"""The audit's HTML page in a real browser (Debian's headless Chromium): it renders, writes
nothing to the console, its colours say pass and fail, and a value carrying markup stays text."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from scripts.audit.browser import main as browser_main
from scripts.audit.browser import render, report_from_json
from scripts.audit.model import Control, Status
from scripts.audit.report import COLOURS, Report, render_html, render_json

pytestmark = pytest.mark.needs("chromium")

HOSTILE = '<script>console.error("injected")</script><img src=x onerror="console.error(1)">'


def colours(png: bytes) -> set[tuple[int, int, int]]:
    with Image.open(io.BytesIO(png)) as image:
        return {pixel[:3] for pixel in image.convert("RGB").getdata()}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def report(*statuses: Status, summary: str = "as declared") -> Report:
    details = {"cipher": "aes-xts-plain64"}
    controls = tuple(
        Control(f"at-rest.cipher[v{i}]", "at-rest", "aes-256-xts", status, summary, details)
        for i, status in enumerate(statuses)
    )
    return Report("prod", "2026-12-02T00:00:00Z", "docker-host", controls)


def test_the_page_renders_with_no_console_message_and_shows_green_only_when_all_pass(tmp_path: Path) -> None:
    green = tmp_path / "green.html"
    green.write_text(render_html(report("pass", "pass")))
    red = tmp_path / "red.html"
    red.write_text(render_html(report("pass", "fail", "warn", "skip")))
    shown_green, shown_red = render(green, width=1000, height=700), render(red, width=1000, height=700)
    assert shown_green.console == () and shown_red.console == ()
    assert shown_green.size == shown_red.size == (1000, 700)
    assert rgb(COLOURS["pass"]) in colours(shown_green.png)
    assert rgb(COLOURS["fail"]) not in colours(shown_green.png)
    assert {rgb(COLOURS["fail"]), rgb(COLOURS["warn"])} <= colours(shown_red.png)


def test_markup_in_a_fact_is_shown_as_text_and_never_runs(tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    page.write_text(render_html(report("fail", summary=HOSTILE)))
    assert render(page).console == ()
    # The same markup unescaped does run: the console check sees what a page writes.
    raw = tmp_path / "raw.html"
    raw.write_text(f"<!DOCTYPE html><html><body>{HOSTILE}</body></html>")
    assert any("injected" in message for message in render(raw).console)


def test_the_docs_screenshot_comes_from_a_saved_json_report(tmp_path: Path) -> None:
    saved = report("pass", "fail")
    document = tmp_path / "audit.json"
    document.write_text(render_json(saved))
    assert report_from_json(json.loads(document.read_text())) == saved
    out = tmp_path / "audit.png"
    assert browser_main([str(document), str(out), "900x600"]) == 0
    with Image.open(out) as image:
        assert image.size == (900, 600)
    assert browser_main([str(document), str(out), "wide"]) == 2
