"""Base model and shared field types for stack settings.

Every settings model is frozen, rejects unknown keys (a typo is an error, not a silent default)
and uses the camelCase names of the Pulumi config keys.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB|TiB)?\s*$")
_UNITS = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


def parse_size(value: Any) -> int:
    """'512MiB' -> 536870912. Binary units only, so a size means the same on every tool."""
    if isinstance(value, bool):
        raise ValueError("must be a size such as '512MiB' or '2GiB'")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            return int(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError(
        f"must be a size such as '512MiB' or '2GiB' (units B, KiB, MiB, GiB, TiB), got {value!r}"
    )


ByteSize = Annotated[int, BeforeValidator(parse_size)]


def _absolute_path(value: str) -> str:
    if not value.startswith("/") or "\x00" in value or "\n" in value:
        raise ValueError(f"must be an absolute path, got {value!r}")
    if any(part in ("..", ".") for part in value.split("/")):
        raise ValueError(f"must not contain '.' or '..' components, got {value!r}")
    if len(value) > 1 and value.endswith("/"):
        value = value.rstrip("/")
    return value


AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$")


def _resource_name(value: str) -> str:
    if not _NAME.match(value) or "--" in value:
        raise ValueError(
            "must be 2-24 characters of lowercase letters, digits and single hyphens, starting "
            f"with a letter (it becomes part of device, mount and container names), got {value!r}"
        )
    return value


ResourceName = Annotated[str, AfterValidator(_resource_name)]
