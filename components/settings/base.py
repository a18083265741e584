"""Base model and shared field types for stack settings.

Every settings model is frozen, rejects unknown keys (a typo is an error, not a silent default)
and uses the camelCase names of the Pulumi config keys. Numbers and switches are taken as what
they are: `true` is not the number 1 and `"yes"` is not `true` (pydantic would coerce both), so
every integer field is an `Integer`, every switch a `Flag`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StrictBool
from pydantic.alias_generators import to_camel

from .grammar import RESOURCE_NAME, SIZE, UID_GID, grammar


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


_INTEGER = grammar("integer", r"-?[0-9]{1,20}", "42")


def _integer(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    if isinstance(value, str) and not _INTEGER.matches(value):
        raise ValueError(f"must be a whole number, got {value!r}")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    return value


Integer = Annotated[int, BeforeValidator(_integer)]
Number = Annotated[float, BeforeValidator(_number)]
Flag = StrictBool

_UNITS = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
# No size in these settings is larger (a volume, a memory limit, a log file): a bigger number is a
# typo (a missing unit, an extra digit), not a plan.
MAX_SIZE_BYTES = 64 * 1024**4
MAX_SIZE_TEXT = "64TiB"


def parse_size(value: Any) -> int:
    """'512MiB' -> 536870912. Binary units only, so a size means the same on every tool."""
    if isinstance(value, bool):
        raise ValueError("must be a size such as '512MiB' or '2GiB', not true/false")
    size: int | None = None
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        match = SIZE.match(value)
        if match:
            size = int(match.group("number")) * _UNITS[match.group("unit")]
    if size is None:
        raise ValueError(
            f"must be a size such as '512MiB' or '2GiB' (units B, KiB, MiB, GiB, TiB), got {value!r}"
        )
    if size < 1:
        raise ValueError(f"must be at least 1 byte, got {value!r}")
    if size > MAX_SIZE_BYTES:
        raise ValueError(f"must be at most {MAX_SIZE_TEXT}, got {value!r}")
    return size


ByteSize = Annotated[int, BeforeValidator(parse_size)]


def _resource_name(value: str) -> str:
    if not RESOURCE_NAME.matches(value) or "--" in value:
        raise ValueError(
            "must be 2-24 characters of lowercase letters, digits and single hyphens, starting "
            f"with a letter (it becomes part of device, mount and container names), got {value!r}"
        )
    return value


ResourceName = Annotated[str, AfterValidator(_resource_name)]

# uid_t is 32 bits and (uid_t)-1 means "no change" to chown: keep ids in the signed range.
MAX_ID = 2**31 - 1


def parse_owner(value: str) -> tuple[int, int]:
    """'999:998' -> (999, 998). Raises ValueError unless numeric uid:gid in range."""
    match = UID_GID.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"must be numeric 'uid:gid' such as '999:999', got {value!r}")
    uid, gid = int(match.group("uid")), int(match.group("gid"))
    if uid > MAX_ID or gid > MAX_ID:
        raise ValueError(f"uid and gid must be at most {MAX_ID}, got {value!r}")
    return uid, gid


def _owner(value: str) -> str:
    parse_owner(value)
    return value


def _unprivileged_user(value: str) -> str:
    uid, _ = parse_owner(value)
    if uid == 0:
        raise ValueError(
            f"must not be uid 0 (root, whatever the spelling: got {value!r}); containers run as an "
            "unprivileged uid:gid such as '1000:1000'"
        )
    return value


Owner = Annotated[str, AfterValidator(_owner)]
"""Numeric uid:gid (any, root included): the owner of a directory."""

ContainerUser = Annotated[str, AfterValidator(_unprivileged_user)]
"""Numeric uid:gid a container runs as: never uid 0."""
