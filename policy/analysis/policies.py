"""Rules -> pulumi_policy policies."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from . import servicer_hooks
from .rule import Context, Rule, evaluate
from .stack import StackModel, resource_from_json


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic collector scans every live object each time a generation fills up; a
    stack of thousands of resources (and the facts derived from it) makes each pass slower and the
    passes more frequent, so a stack evaluation grew quadratically (5.6 s instead of 0.08 s for one
    rule at 5,000 resources). The objects a rule creates are freed by reference counting; cycles
    wait for the collector to resume after the rule."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def _reporter(rule: Rule, report_violation: Any) -> Any:
    def report(message: str, urn: str | None) -> None:
        # Pack-config problems have no resource: report each once per configuration.
        if urn is None and not servicer_hooks.first_report_of_config_problem(rule.name, message):
            return
        report_violation(message, urn)

    return report


def to_policy(rule: Rule) -> ResourceValidationPolicy | StackValidationPolicy:
    schema = PolicyConfigSchema(properties=rule.schema_properties())
    level = LEVELS[rule.enforcement]
    if rule.scope == "resource":
        types = frozenset(rule.resource_types)

        def validate_resource(args: Any, report_violation: Any) -> None:
            if types and args.resource_type not in types:
                return
            resource = servicer_hooks.current_resource(args.urn)
            if resource is None:
                if servicer_hooks.installed():
                    # The hooks hand the SDK a request without properties: evaluating that would
                    # pass anything. Never happens unless the SDK changes; fail closed if it does.
                    report_violation(
                        f"{rule.name}: the pack lost track of the resource being analyzed (fail closed)",
                        args.urn,
                    )
                    return
                resource = servicer_hooks.resource_from_sdk(
                    args.resource_type, args.props, args.urn, args.name
                )
            ctx = Context(config={}, info=servicer_hooks.stack_info(), resource=resource)
            with cyclic_gc_paused():
                evaluate(rule, ctx, _reporter(rule, report_violation), args.get_config())

        return ResourceValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=validate_resource,
            enforcement_level=level,
            config_schema=schema,
        )

    def validate_stack(args: Any, report_violation: Any) -> None:
        model = servicer_hooks.current_model()
        if model is None and servicer_hooks.installed():
            report_violation(
                f"{rule.name}: the pack lost track of the stack being analyzed (fail closed)", None
            )
            return
        if model is None:
            model = StackModel(
                [
                    resource_from_json(
                        urn=r.urn,
                        type_=r.resource_type,
                        name=r.name,
                        properties=servicer_hooks._plain(r.props),  # noqa: SLF001
                        parent=r.parent.urn if r.parent is not None else None,
                        dependencies=[d.urn for d in r.dependencies],
                        property_dependencies={
                            k: [d.urn for d in v] for k, v in r.property_dependencies.items()
                        },
                    )
                    for r in args.resources
                ],
                servicer_hooks.stack_info(),
            )
        ctx = Context(config={}, info=model.info, model=model)
        with cyclic_gc_paused():
            evaluate(rule, ctx, _reporter(rule, report_violation), args.get_config())

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate_stack,
        enforcement_level=level,
        config_schema=schema,
    )
