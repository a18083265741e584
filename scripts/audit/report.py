"""The audit's report: a stable JSON document for machines and a self-contained HTML page for
people (inline CSS, no script, no external resource; every value HTML-escaped)."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .model import CONCERNS, PROMISES, STATUSES, Control

SCHEMA = "encrypted-platform-audit/1"
COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "warn": "#9a6700", "skip": "#6e7781"}


@dataclass(frozen=True)
class Report:
    stack: str
    generated_at: str  # ISO 8601, UTC
    host: str | None
    controls: tuple[Control, ...]

    def counts(self) -> dict[str, int]:
        return {status: sum(1 for c in self.controls if c.status == status) for status in STATUSES}

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.controls)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (warnings allowed), 1 when a control failed."""
        return 1 if self.failed else 0

    def by_id(self) -> dict[str, Control]:
        return {c.id: c for c in self.controls}


def to_json(report: Report) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "stack": report.stack,
        "generatedAt": report.generated_at,
        "host": report.host,
        "summary": {**report.counts(), "result": "fail" if report.failed else "pass"},
        "controls": [
            {
                "id": c.id,
                "concern": c.concern,
                "promise": c.promise,
                "promiseText": PROMISES[c.promise],
                "status": c.status,
                "summary": c.summary,
                "details": c.details,
            }
            for c in report.controls
        ],
    }


def render_json(report: Report) -> str:
    return json.dumps(to_json(report), indent=2, sort_keys=False, default=str) + "\n"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _badge(status: str) -> str:
    return f'<span class="badge {_e(status)}">{_e(status.upper())}</span>'


_CSS = (
    """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328;max-width:80rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem;color:#57606a}
table{border-collapse:collapse;width:100%;margin:.5rem 0}td,th{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
.badge{color:#fff;border-radius:.3rem;padding:.05rem .4rem;font-size:.8rem;font-weight:600}
"""
    + "".join(f".{s}{{background:{c}}}" for s, c in COLOURS.items())
    + """
.result{font-size:1.1rem;padding:.6rem 1rem;border-radius:.4rem;color:#fff;display:inline-block}
pre{white-space:pre-wrap;word-break:break-all;font-size:.75rem;margin:0}
details summary{cursor:pointer}
"""
)


def _grouped(controls: Sequence[Control]) -> list[tuple[str, list[tuple[str, list[Control]]]]]:
    groups: list[tuple[str, list[tuple[str, list[Control]]]]] = []
    for concern in CONCERNS:
        of_concern = [c for c in controls if c.concern == concern]
        if not of_concern:
            continue
        promises = [(p, [c for c in of_concern if c.promise == p]) for p in PROMISES]
        groups.append((concern, [(p, cs) for p, cs in promises if cs]))
    return groups


def render_html(report: Report) -> str:
    counts = report.counts()
    result = "fail" if report.failed else "pass"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Audit of stack {_e(report.stack)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>encrypted-platform audit: stack {_e(report.stack)}</h1>",
        f"<p>Generated {_e(report.generated_at)} for host {_e(report.host or 'unknown')}.</p>",
        f'<p class="result {result}">{_e("FAILED" if report.failed else "PASSED")}: '
        + ", ".join(f"{counts[s]} {_e(s)}" for s in STATUSES)
        + "</p>",
        "<h2>Summary</h2>",
        "<table><tr><th>concern</th><th>promise</th><th>control</th><th>status</th><th>summary</th></tr>",
    ]
    for concern, promises in _grouped(report.controls):
        for promise, controls in promises:
            for control in controls:
                parts.append(
                    f"<tr><td>{_e(concern)}</td><td>{_e(PROMISES[promise])}</td>"
                    f'<td><a href="#{_e(control.id)}">{_e(control.id)}</a></td>'
                    f"<td>{_badge(control.status)}</td><td>{_e(control.summary)}</td></tr>"
                )
    parts.append("</table>")
    for concern, promises in _grouped(report.controls):
        parts.append(f"<h2>{_e(concern)}</h2>")
        for promise, controls in promises:
            parts.append(f"<h3>{_e(PROMISES[promise])}</h3><table>")
            for control in controls:
                details = json.dumps(control.details, indent=2, default=str)
                parts.append(
                    f'<tr id="{_e(control.id)}"><td>{_badge(control.status)}</td><td><b>{_e(control.id)}</b><br>'
                    f"{_e(control.summary)}<details><summary>details</summary><pre>{_e(details)}</pre></details></td></tr>"
                )
            parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
