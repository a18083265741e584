"""How a setting is named in an error: exactly as `pulumi config set --path` takes it.

Pulumi's property-path grammar (sdk/go/common/resource/properties_path.go): a plain name runs
until the next '.' or '['; `[<digits>]` is a list index; `["..."]` is a name in double quotes,
with `\\"` for a quote inside it. A name is written plain when it is an identifier with hyphens
(`volumes.app-db.size`); anything else (a '.', '[', '"', '/', a space, a leading digit, an empty
name) goes in brackets (`tmpfs["/tmp"]`, `allowTcpPorts[1]`); `key_path` is the one place that
writes this spelling.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence

PROJECT = "encrypted-platform"
# Docker names and labels, LUKS labels and subsystems, log tags: all start with the project name.
NAME_PREFIX = PROJECT

PathPart = str | int

_PLAIN_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*", re.ASCII)


def key_path(path: Sequence[PathPart]) -> str:
    """('volumes', 'app-db', 'size') -> 'volumes.app-db.size'; ('tmpfs', '/tmp') -> 'tmpfs["/tmp"]'."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        elif _PLAIN_NAME.fullmatch(str(part)):
            text += f".{part}" if text else str(part)
        elif str(part).isprintable():
            quoted = str(part).replace('"', '\\"')
            text += f'["{quoted}"]'
        else:
            # A control character (a newline, a tab) cannot be typed into a key on a command line
            # and would break the error line: shown escaped, as JSON writes it.
            text += f"[{json.dumps(str(part))}]"
    return text


def config_key(path: Sequence[PathPart]) -> str:
    """The full key with the project namespace: 'encrypted-platform:volumes.app-db.size'."""
    return f"{PROJECT}:{key_path(path)}" if path else PROJECT


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'encryption'?)' when a known name is close to `name`, else ''."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    if not close:
        # Case slips ('keysdir' for 'keysDir') are common and score low on raw characters.
        lowered = {k.lower(): k for k in known}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    return f" (did you mean {close[0]!r}?)" if close else ""


class KeyProblem(ValueError):
    """A problem with the setting at `path` (relative to the model that raises it)."""

    def __init__(self, path: tuple[PathPart, ...] | PathPart, message: str) -> None:
        self.path: tuple[PathPart, ...] = path if isinstance(path, tuple) else (path,)
        self.message = message
        super().__init__(f"{key_path(self.path)}: {message}")
