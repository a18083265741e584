"""Property values as the engine sends them, decoded once into plain Python.

The engine marshals resource properties with unknowns kept (a sentinel string per kind) and
secrets kept (an object with the secret signature). Every rule reads the decoded form:
- unknown values become the `UNKNOWN` marker, so a rule can name the field and fail closed;
- secrets become their plain value (a rule must see what will be deployed), and every secret
  string is remembered so that messages can redact it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import TypeIs

# Sentinels of the wire format (pulumi sdk/go/common/resource/plugin/rpc.go).
UNKNOWN_SENTINELS = frozenset(
    {
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string (the one the engine sends for any kind)
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)
SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - the wire format's secret signature
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"


class Unknown:
    """A value the engine does not know yet (preview)."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown at preview>"

    def __bool__(self) -> bool:
        raise TypeError("an unknown value has no truth value; check is_unknown() first")


UNKNOWN = Unknown()


def is_unknown(value: Any) -> TypeIs[Unknown]:
    return value is UNKNOWN


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def decode(value: Any, secrets: set[str]) -> Any:
    """Decodes one property value from its JSON form (google.protobuf.Struct -> dict)."""
    if isinstance(value, str):
        return UNKNOWN if value in UNKNOWN_SENTINELS else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [decode(v, secrets) for v in value]
    if isinstance(value, dict):
        sig = value.get(SPECIAL_SIG_KEY)
        if sig is None:
            return {k: decode(v, secrets) for k, v in value.items()}
        if sig == SECRET_SIG:
            plain = decode(value.get("value"), secrets)
            _remember_secret_strings(plain, secrets)
            return plain
        if sig == ASSET_SIG:
            # Only a text asset has content the pack can read; a path or URI is not resolvable here.
            return {"asset": {k: decode(v, secrets) for k, v in value.items() if k != SPECIAL_SIG_KEY}}
        if sig == ARCHIVE_SIG:
            return {"archive": True}
        if sig == RESOURCE_REF_SIG:
            ident = value.get("id")
            return decode(ident, secrets) if ident is not None else value.get("urn", UNKNOWN)
        if sig == OUTPUT_VALUE_SIG:
            if "value" not in value:
                return UNKNOWN
            plain = decode(value["value"], secrets)
            if value.get("secret"):
                _remember_secret_strings(plain, secrets)
            return plain
        return {k: decode(v, secrets) for k, v in value.items() if k != SPECIAL_SIG_KEY}
    return value


def _remember_secret_strings(value: Any, secrets: set[str]) -> None:
    if isinstance(value, str) and len(value) >= 4:
        secrets.add(value)
        for line in value.splitlines():
            if len(line.strip()) >= 4:
                secrets.add(line.strip())
    elif isinstance(value, dict):
        for v in value.values():
            _remember_secret_strings(v, secrets)
    elif isinstance(value, list):
        for v in value:
            _remember_secret_strings(v, secrets)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "[secret]")
    return text


# --- small accessors that keep unknowns visible -------------------------------------------


def get_path(value: Any, *path: str | int) -> Any:
    """value[path...]; None when a step is missing, UNKNOWN when a step is unknown."""
    for step in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
    return value


def as_list(value: Any) -> list[Any]:
    """A list property: [] when absent, [UNKNOWN] when the whole list is unknown."""
    if value is None:
        return []
    if value is UNKNOWN:
        return [UNKNOWN]
    if isinstance(value, list):
        return value
    return [value]


def label_map(value: Any) -> dict[str, Any] | Unknown:
    """Docker labels arrive as [{label, value}] (or a map); UNKNOWN if the list is unknown."""
    if value is UNKNOWN:
        return UNKNOWN
    result: dict[str, Any] = {}
    if isinstance(value, dict):
        return dict(value)
    for item in as_list(value):
        if item is UNKNOWN:
            return UNKNOWN
        if isinstance(item, dict):
            key = item.get("label")
            if key is UNKNOWN:
                return UNKNOWN
            if isinstance(key, str):
                result[key] = item.get("value")
    return result


def env_map(value: Any) -> dict[str, Any] | Unknown:
    """Container `envs` is a list of "NAME=value"; a Swarm `env` is a map."""
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, dict):
        return dict(value)
    result: dict[str, Any] = {}
    for item in as_list(value):
        if item is UNKNOWN:
            return UNKNOWN
        if isinstance(item, str):
            name, _, rest = item.partition("=")
            result[name] = rest
    return result


def to_int(value: Any) -> int | None | Unknown:
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


TRUE_WORDS = frozenset({"true", "1", "yes", "on", "y", "t", "enabled", "enable"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", "n", "f", "disabled", "disable", "none", ""})


def truthy(value: Any) -> bool | None | Unknown:
    """True/False for booleans and their common string spellings; None when it is neither."""
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def iter_strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string leaf with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from iter_strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from iter_strings(v, (*path, i))


def format_path(path: Iterable[str | int]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def mapping_get_ci(mapping: Mapping[str, Any], key: str) -> Any:
    lowered = key.lower()
    for k, v in mapping.items():
        if k.lower() == lowered:
            return v
    return None
