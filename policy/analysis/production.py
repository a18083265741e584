"""Whether the stack is production: one reading for every rule that is stricter in production.

Production: the stack's `environment` config is one of productionEnvironmentValues, or the stack
name matches productionStacks (both as the engine sends them), or the rule's own `environment`
setting is "prod". When the engine sends neither stack name nor stack config, the stack counts
as production (fail closed). `CONFIG` is the settings' schema (defaults included) each such rule
declares among its own.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from .stack import StackInfo

CONFIG: dict[str, dict[str, Any]] = {
    "environment": {
        "type": "string",
        "enum": ["auto", "prod"],
        "description": "auto: production is read from the stack (config `environment`, stack name); prod: always.",
        "default": "auto",
    },
    "productionEnvironmentValues": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Values of the stack config key `environment` that mean production.",
        "default": ["prod", "production"],
    },
    "productionStacks": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Glob patterns of production stack names.",
        "default": ["prod", "production", "prod-*", "*-prod", "*-production"],
    },
}


def is_production(info: StackInfo, config: Mapping[str, Any]) -> tuple[bool, str]:
    """(production?, why) from the stack the engine describes and the rule's settings."""
    if config["environment"] == "prod":
        return True, "this policy's environment is prod"
    env_value = info.config_value("environment")
    if env_value is not None and env_value.strip().lower() in {
        v.lower() for v in config["productionEnvironmentValues"]
    }:
        return True, f"the stack config sets environment={env_value}"
    if info.stack and any(fnmatch.fnmatchcase(info.stack, p) for p in config["productionStacks"]):
        return True, f"stack '{info.stack}' matches productionStacks"
    if not info.stack and env_value is None:
        return True, "the engine sent neither stack name nor stack config (fail closed)"
    return False, ""
