"""Every text grammar a setting is checked against, in one registry.

A grammar matches the whole value (`re.fullmatch`: a trailing newline is not "the end of the
line") and is ASCII-only (`\\d` is 0-9, not every Unicode digit `int()` would read). Settings
modules declare their grammars here through `grammar(...)` so a test can hold every one of them to
that: each has an example it accepts and refuses the example with a newline, a CRLF or a NUL
appended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Grammar:
    name: str
    pattern: re.Pattern[str]
    example: str

    def matches(self, value: object) -> bool:
        return isinstance(value, str) and self.pattern.fullmatch(value) is not None

    def match(self, value: str) -> re.Match[str] | None:
        return self.pattern.fullmatch(value)


GRAMMARS: dict[str, Grammar] = {}


def grammar(name: str, regex: str, example: str) -> Grammar:
    """Declares (once) the grammar `name`; `example` is a value it must accept."""
    if name in GRAMMARS:
        raise ValueError(f"grammar {name!r} is declared twice")
    declared = Grammar(name, re.compile(regex, re.ASCII), example)
    if not declared.matches(example):
        raise ValueError(f"grammar {name!r} refuses its own example {example!r}")
    GRAMMARS[name] = declared
    return declared


# Shared fragments (composed into several grammars below and in the settings modules). The image
# reference fragments are platform_rules.image_reference's, shared with the policy pack.
DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"

UID_GID = grammar("uid:gid", r"(?P<uid>[0-9]{1,10}):(?P<gid>[0-9]{1,10})", "999:999")
SIZE = grammar("size", r"(?P<number>[0-9]{1,20}) ?(?P<unit>B|KiB|MiB|GiB|TiB)?", "512MiB")
DURATION = grammar("duration", r"(?P<number>[0-9]{1,9})(?P<unit>s|m|h)?", "30s")
RESOURCE_NAME = grammar("resource name", r"[a-z][a-z0-9-]{0,22}[a-z0-9]", "app-db")
# One line of printable ASCII: what may go into YAML, an HTTP header or a log line unquoted.
PRINTABLE_LINE = grammar("printable line", r"[\x20-\x7e]{1,1024}", "frame-ancestors 'self'")
