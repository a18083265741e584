"""scripts/audit/report.py: the JSON document's schema and counts, the exit code, and an HTML page
that is self-contained (no script, no external resource) with every value escaped."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from scripts.audit.model import Control
from scripts.audit.report import SCHEMA, Report, render_html, render_json

pytestmark = pytest.mark.unit
HOSTILE = "<script>alert(1)</script>\"'&"


def report(*statuses: str) -> Report:
    controls = tuple(
        Control(f"at-rest.c{n}", "at-rest", "luks-volumes", status, f"summary {n}", {"n": n})  # type: ignore[arg-type]
        for n, status in enumerate(statuses)
    )
    return Report("dev", "2026-12-02T00:00:00Z", "host-1", controls)


def test_the_json_document_has_the_stable_schema() -> None:
    document = json.loads(render_json(report("pass", "warn", "fail", "skip")))
    assert list(document) == ["schema", "stack", "generatedAt", "host", "summary", "controls"]
    assert document["schema"] == SCHEMA
    assert document["summary"] == {"pass": 1, "fail": 1, "warn": 1, "skip": 1, "result": "fail"}
    assert list(document["controls"][0]) == [
        "id",
        "concern",
        "promise",
        "promiseText",
        "status",
        "summary",
        "details",
    ]
    assert document["controls"][0]["promiseText"].startswith("All platform data")


@pytest.mark.parametrize(
    ("statuses", "code"), [(("pass", "warn", "skip"), 0), (("pass", "fail"), 1), ((), 0)]
)
def test_exit_code_is_one_only_when_a_control_fails(statuses: tuple[str, ...], code: int) -> None:
    assert report(*statuses).exit_code == code


def test_unknown_status_concern_or_promise_is_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        Control("x", "at-rest", "luks-volumes", "ok", "")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="promise"):
        Control("x", "at-rest", "nothing", "pass", "")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_html_page_escapes_every_value_and_needs_nothing_outside_itself() -> None:
    hostile = Report(
        HOSTILE,
        "2026-12-02T00:00:00Z",
        HOSTILE,
        (Control(f"at-rest.x[{HOSTILE}]", "at-rest", "luks-volumes", "fail", HOSTILE, {"k": HOSTILE}),),
    )
    page = render_html(hostile)
    parser = _Tags()
    parser.feed(page)
    tags = {tag for tag, _ in parser.tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert HOSTILE not in page
    assert any(HOSTILE in text for text in parser.text)  # shown, as text


def test_the_summary_is_on_top_grouped_by_concern_and_promise() -> None:
    controls = (
        Control("in-transit.a", "in-transit", "tls-versions", "pass", "a"),
        Control("at-rest.b", "at-rest", "aes-256-xts", "fail", "b"),
    )
    page = render_html(Report("dev", "t", None, controls))
    assert (
        page.index("FAILED")
        < page.index("<h2>Summary</h2>")
        < page.index("<h2>at-rest</h2>")
        < page.index("<h2>in-transit</h2>")
    )
    assert page.index("at-rest.b") < page.index("in-transit.a")
    assert 'class="badge fail"' in page and 'class="badge pass"' in page
