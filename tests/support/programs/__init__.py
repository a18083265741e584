"""Programs a teammate could write with raw pulumi_docker and pulumi_command resources.

`baseline` builds a compliant platform from raw resources (a LUKS2 command and a volume bound
into its mount, hardened containers on internal networks, a Traefik edge configured by files).
Each violating program either is a careless stand-alone snippet or is the baseline with one
mistake; it declares which policies must reject it and on which resource.

Import `all_programs()` to get every registered program (the modules register on import).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Program:
    name: str
    run: Callable[[], None]
    expect: frozenset[str]  # mandatory policies that must report a violation
    resource: str | None  # the resource the first expected violation names (None: any)
    exact: bool  # True: no other mandatory policy may fire (baseline + one mistake)
    stack: str = "dev"
    stack_config: dict[str, Any] = field(default_factory=dict)
    variants: tuple[str, ...] = ("preview", "update")
    pack_config: dict[str, Any] = field(default_factory=dict)  # --policy-pack-config content
    note: str = ""


_REGISTRY: list[Program] = []


def violation(
    *expect: str,
    resource: str | None = None,
    exact: bool = False,
    stack: str = "dev",
    stack_config: dict[str, Any] | None = None,
    variants: tuple[str, ...] = ("preview", "update"),
    pack_config: dict[str, Any] | None = None,
) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(fn: Callable[[], None]) -> Callable[[], None]:
        _REGISTRY.append(
            Program(
                name=f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}",
                run=fn,
                expect=frozenset(expect),
                resource=resource,
                exact=exact,
                stack=stack,
                stack_config=dict(stack_config or {}),
                variants=variants,
                pack_config=dict(pack_config or {}),
                note=(fn.__doc__ or "").strip(),
            )
        )
        return fn

    return register


# Swarm services cannot set no-new-privileges; these programs declare the daemon default.
SWARM_DAEMON = {"container-hardening": {"daemonEnforcesNoNewPrivileges": True}}


def all_programs() -> list[Program]:
    from . import baseline  # noqa: F401 - the compliant scaffolding

    for module in pkgutil.iter_modules(__path__):
        if module.name not in ("baseline",):
            importlib.import_module(f"{__name__}.{module.name}")
    seen: dict[str, Program] = {}
    for p in _REGISTRY:
        seen[p.name] = p
    return sorted(seen.values(), key=lambda p: p.name)
