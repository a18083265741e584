"""Hooks around the pulumi_policy gRPC servicer (pinned pulumi-policy 1.21.0).

pulumi_policy gives a rule its properties with secrets already unwrapped, rebuilds every stack
resource once per stack policy, and keeps only the tags of ConfigureStack. The hooks see each
request first, so that the pack can:
- decode each resource once, keeping track of which strings are secrets (for redaction);
- build one StackModel per AnalyzeStack call that every stack rule shares;
- remember the inputs the engine sent to Analyze, because AnalyzeStack carries the resources'
  outputs, where an attribute the program never set but the provider computes is unknown at
  preview (it is the provider's default, which a rule may treat as unset);
- know the stack (name, project, config) from ConfigureStack.

If the servicer ever changes shape, install() leaves it alone and the rules fall back to the
SDK's own arguments.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

from .stack import Resource, StackInfo, StackModel, resource_from_json
from .values import is_unknown

_local = threading.local()
_lock = threading.Lock()
_inputs_by_urn: dict[str, Resource] = {}
_stack_info: StackInfo | None = None
_reported_config_problems: set[tuple[str, str]] = set()
_installed = False


def stack_info() -> StackInfo:
    return _stack_info if _stack_info is not None else StackInfo.from_environment()


def installed() -> bool:
    return _installed


def current_resource(urn: str) -> Resource | None:
    res = getattr(_local, "resource", None)
    return res if res is not None and res.urn == urn else None


def current_model() -> StackModel | None:
    return getattr(_local, "model", None)


def first_report_of_config_problem(rule: str, message: str) -> bool:
    key = (rule, message)
    with _lock:
        if key in _reported_config_problems:
            return False
        _reported_config_problems.add(key)
        return True


def _resource_from_request(request: Any, with_links: bool) -> Resource:
    props = json_format.MessageToDict(request.properties) if request.HasField("properties") else {}
    provider_urn = request.provider.urn if request.HasField("provider") else None
    if with_links:
        return resource_from_json(
            urn=request.urn,
            type_=request.type,
            name=request.name,
            properties=props,
            parent=request.parent,
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            provider_urn=provider_urn,
        )
    return resource_from_json(
        urn=request.urn,
        type_=request.type,
        name=request.name,
        properties=props,
        parent=request.options.parent if request.HasField("options") else None,
        provider_urn=provider_urn,
    )


def merge_outputs_with_inputs(outputs: Resource, inputs: Resource | None) -> Resource:
    """Outputs, except where an output is unknown: the input value if the program set one, and
    nothing (the provider's default) if the program did not set it."""
    if inputs is None:
        return outputs
    props: dict[str, Any] = {}
    for key, value in outputs.props.items():
        if not is_unknown(value):
            props[key] = value
        elif key in inputs.props:
            props[key] = inputs.props[key]
    for key, value in inputs.props.items():
        props.setdefault(key, value)
    outputs.props = props
    outputs.secrets = outputs.secrets | inputs.secrets
    return outputs


def model_from_request(request: Any) -> StackModel:
    with _lock:
        recorded = dict(_inputs_by_urn)
    resources = [
        merge_outputs_with_inputs(_resource_from_request(r, with_links=True), recorded.get(r.urn))
        for r in request.resources
    ]
    return StackModel(resources, stack_info())


def install() -> bool:
    global _installed
    if _installed:
        return True
    try:
        from pulumi_policy import policy as sdk

        # Any: the methods are replaced on the class below, which mypy would refuse on its type.
        servicer: Any = sdk._PolicyAnalyzerServicer  # noqa: SLF001 - see module docstring
        original_analyze = servicer.Analyze
        original_analyze_stack = servicer.AnalyzeStack
        original_configure_stack = servicer.ConfigureStack
        original_configure = servicer.Configure
    except (ImportError, AttributeError):
        return False

    def analyze(self: Any, request: Any, context: Any) -> Any:
        resource = _resource_from_request(request, with_links=False)
        with _lock:
            _inputs_by_urn[resource.urn] = resource
        _local.resource = resource
        # The rules read the decoded resource above; the SDK need not decode the properties
        # again for every policy.
        light = type(request)()
        light.CopyFrom(request)
        light.ClearField("properties")
        try:
            return original_analyze(self, light, context)
        finally:
            _local.resource = None

    def analyze_stack(self: Any, request: Any, context: Any) -> Any:
        _local.model = model_from_request(request)
        # Every stack rule reads this one model; the SDK would otherwise decode every resource
        # once per stack policy. It still runs each policy and applies enforcement levels.
        try:
            return original_analyze_stack(self, type(request)(), context)
        finally:
            _local.model = None
            # One AnalyzeStack ends one preview or update: forget its inputs.
            with _lock:
                _inputs_by_urn.clear()

    def configure_stack(self: Any, request: Any, context: Any) -> Any:
        global _stack_info
        env = StackInfo.from_environment()
        _stack_info = StackInfo(
            stack=request.stack or env.stack,
            project=request.project or env.project,
            organization=request.organization or env.organization,
            dry_run=request.dry_run,
            config=dict(request.config) or dict(env.config),
        )
        return original_configure_stack(self, request, context)

    def configure(self: Any, request: Any, context: Any) -> Any:
        with _lock:
            _reported_config_problems.clear()
        return original_configure(self, request, context)

    servicer.Analyze = analyze
    servicer.AnalyzeStack = analyze_stack
    servicer.ConfigureStack = configure_stack
    servicer.Configure = configure
    _installed = True
    return True


def resource_from_sdk(resource_type: str, props: Mapping[str, Any], urn: str, name: str) -> Resource:
    """Fallback when the hooks are not installed: the SDK's (proxied, secrets unwrapped) props."""
    return resource_from_json(urn=urn, type_=resource_type, name=name, properties=_plain(props))


def _plain(value: Any) -> Any:
    try:
        from pulumi_policy.proxy import _DictProxy, _ListProxy  # noqa: SLF001
    except ImportError:  # pragma: no cover
        _DictProxy = _ListProxy = ()  # type: ignore[misc,assignment]  # noqa: N806
    if _DictProxy and isinstance(value, _DictProxy | _ListProxy):  # type: ignore[truthy-function]
        value = value["__target"]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
