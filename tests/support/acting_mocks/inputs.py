"""The input grammar every acting executor shares: which input fields it honours (anything
else fails the run) and how the providers read numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HONOURED = True  # marker in field specs: a leaf field the executor applies


class UnhonouredInput(RuntimeError):
    """The program declared something the acting mocks cannot perform faithfully."""


def check_fields(type_: str, name: str, inputs: Any, spec: Mapping[str, Any], path: str = "") -> None:
    """Raises UnhonouredInput for any key of `inputs` (recursively) that `spec` does not list."""
    if isinstance(inputs, list):
        for i, item in enumerate(inputs):
            check_fields(type_, name, item, spec, f"{path}[{i}]")
        return
    if not isinstance(inputs, Mapping):
        return
    for key, value in inputs.items():
        where = f"{path}.{key}" if path else key
        if key not in spec:
            raise UnhonouredInput(
                f"{type_} {name!r}: input {where!r} is not honoured by the acting mocks "
                f"(honoured: {', '.join(sorted(spec))})"
            )
        nested = spec[key]
        if isinstance(nested, Mapping) and value is not None:
            check_fields(type_, name, value, nested, where)


def as_int(value: Any) -> int:
    return int(round(float(value)))
