"""What a rule is, how its findings become violations, and how pack config applies.

A rule module declares one `Rule`: its name, what it guards, its default enforcement, its
config properties (JSON schema, defaults included: the single source of truth the engine also
reads), and a `check` that yields `Finding`s. Every rule gets the same `exceptions` config.

Messages say what is wrong, where (resource and property path) and how to fix it. Secrets of
the resource are redacted from every message.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .stack import Resource, StackInfo, StackModel
from .values import redact

Scope = Literal["resource", "stack"]

EXCEPTION_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": (
        "Reviewed exceptions: each suppresses this policy's findings for the resources it names. "
        "`resource` is a glob on the resource name or URN; `finding` (optional) a glob on the "
        "finding's subject (shown in the violation as [subject]); `reason` says why it is "
        "acceptable and who reviewed it; `expires` (optional, YYYY-MM-DD) ends it."
    ),
    "items": {
        "type": "object",
        "properties": {
            "resource": {"type": "string", "minLength": 1},
            "finding": {"type": "string", "minLength": 1},
            "reason": {"type": "string", "minLength": 10},
            "expires": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        },
        "required": ["resource", "reason"],
        "additionalProperties": False,
    },
    "default": [],
}


@dataclass(frozen=True)
class Finding:
    resource: Resource | None
    field: str
    problem: str
    fix: str
    subject: str = ""  # stable handle for exceptions (defaults to the field)

    @property
    def key(self) -> str:
        return self.subject or self.field

    def message(self) -> str:
        where = self.resource.label if self.resource is not None else "policy pack config"
        if self.field:
            where += f" {self.field}"
        subject = f" [{self.key}]" if self.key else ""
        return f"{where}: {self.problem}. Fix: {self.fix}.{subject}"


def unknown_finding(resource: Resource, fieldpath: str, what: str, subject: str = "") -> Finding:
    """A value the rule needs is unknown at preview -> a violation naming the field."""
    return Finding(
        resource,
        fieldpath,
        f"is unknown at preview, so {what} cannot be verified (fail closed)",
        "make the value known at preview (a plain value or an explicit name instead of another "
        "resource's computed output), or add a reviewed exception",
        subject or f"unknown:{fieldpath}",
    )


@dataclass
class Context:
    config: Mapping[str, Any]
    info: StackInfo
    model: StackModel | None = None
    resource: Resource | None = None


@dataclass
class Rule:
    name: str
    description: str
    enforcement: Literal["mandatory", "advisory"]
    scope: Scope
    check: Callable[[Context], Iterable[Finding]]
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    resource_types: tuple[str, ...] = ()  # resource scope: the types it applies to

    def schema_properties(self) -> dict[str, Any]:
        return {**self.config, "exceptions": EXCEPTION_SCHEMA}

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.schema_properties().items() if "default" in v}

    def effective_config(self, given: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[Finding]]:
        """Schema defaults overlaid with the given config; problems as findings (fail closed)."""
        merged = self.defaults()
        problems: list[Finding] = []
        known = set(self.schema_properties())
        for key, value in (given or {}).items():
            if key == "enforcementLevel":
                continue
            if key not in known:
                problems.append(
                    Finding(
                        None,
                        f"{self.name}.{key}",
                        "is not a setting of this policy",
                        f"remove it or fix its spelling (settings: {', '.join(sorted(known))})",
                        "config",
                    )
                )
                continue
            merged[key] = value
        for i, exc in enumerate(merged.get("exceptions") or []):
            if (
                not isinstance(exc, Mapping)
                or not exc.get("resource")
                or len(str(exc.get("reason", "")).strip()) < 10
            ):
                problems.append(
                    Finding(
                        None,
                        f"{self.name}.exceptions[{i}]",
                        "is not a reviewed exception",
                        'give each exception a "resource" and a "reason" of at least 10 characters',
                        "config",
                    )
                )
        return merged, problems


@dataclass(frozen=True)
class ExceptionEntry:
    resource: str
    finding: str | None
    reason: str
    expires: dt.date | None

    @staticmethod
    def parse(raw: Mapping[str, Any]) -> ExceptionEntry | None:
        if (
            not isinstance(raw, Mapping)
            or not raw.get("resource")
            or len(str(raw.get("reason", "")).strip()) < 10
        ):
            return None
        expires = None
        if raw.get("expires"):
            try:
                expires = dt.date.fromisoformat(str(raw["expires"]))
            except ValueError:
                return None
        return ExceptionEntry(str(raw["resource"]), raw.get("finding"), str(raw["reason"]), expires)

    def matches(self, f: Finding) -> bool:
        if f.resource is None:
            return False
        if not (
            fnmatch.fnmatchcase(f.resource.name, self.resource)
            or fnmatch.fnmatchcase(f.resource.urn, self.resource)
        ):
            return False
        return self.finding is None or fnmatch.fnmatchcase(f.key, self.finding)


def apply_exceptions(
    findings: Iterable[Finding], config: Mapping[str, Any], today: dt.date
) -> Iterator[Finding]:
    entries = [e for e in (ExceptionEntry.parse(x) for x in config.get("exceptions") or []) if e is not None]
    for f in findings:
        expired: ExceptionEntry | None = None
        suppressed = False
        for e in entries:
            if e.matches(f):
                if e.expires is not None and e.expires < today:
                    expired = e
                    continue
                suppressed = True
                break
        if suppressed:
            continue
        if expired is not None:
            f = Finding(
                f.resource,
                f.field,
                f.problem + f" (its exception expired on {expired.expires})",
                f.fix,
                f.subject,
            )
        yield f


def evaluate(
    rule: Rule,
    ctx: Context,
    report: Callable[[str, str | None], None],
    given_config: Mapping[str, Any] | None,
) -> None:
    """Runs a rule and reports what survives the exceptions. A crash is a violation too: a rule
    that cannot decide must not pass silently."""
    config, problems = rule.effective_config(given_config)
    ctx.config = config
    for p in problems:
        report(p.message(), None)
    try:
        findings = list(rule.check(ctx))
    except Exception as exc:  # noqa: BLE001 - fail closed on any rule error
        where = ctx.resource.label if ctx.resource is not None else "the stack"
        report(
            f"{where}: the rule could not evaluate ({type(exc).__name__}: {exc}); treated as a violation "
            f"(fail closed). Fix: report this with the resource's properties. "
            f"{traceback.format_exception_only(exc)[-1].strip()}",
            ctx.resource.urn if ctx.resource is not None else None,
        )
        return
    for f in apply_exceptions(findings, config, dt.date.today()):
        secrets = f.resource.secrets if f.resource is not None else frozenset()
        report(redact(f.message(), secrets), f.resource.urn if f.resource is not None else None)
