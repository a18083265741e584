"""What the real providers replace.

For every input the program sets: does a change make the real provider REPLACE the resource
(create the new one, delete the old one) or update it in place? Read from the providers'
sources at the versions requirements.txt pins (tests/README.md, "Provider semantics the
stand-in encodes", lists the files and commits).

The docker provider is bridged from a Terraform plugin-SDK provider, where a nested block (a
list or set of objects) with `ForceNew` replaces only when its number of elements changes;
inside an element each field counts with its own `ForceNew` (helper/schema/schema.go diffList
and diffSet; the bridge mirrors it, pkg/tfbridge/property_path.go
propertyPathTriggersReplacement). A set compares elements by value: a changed element is an
old one removed and a new one added, which replaces when either holds a non-empty ForceNew
field. `Block` encodes exactly that; FORCE_NEW and IN_PLACE are leaf rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .inputs import UnhonouredInput

FORCE_NEW = "force-new"  # any change replaces
IN_PLACE = "in-place"  # the provider's update runs (which may not apply the change: see the table)


@dataclass(frozen=True)
class Block:
    """A nested block of a bridged provider: `fields` rule each element, `force_new` is the
    block's own ForceNew (its element count), `ordered` tells a list (by position) from a set."""

    fields: Mapping[str, Rule]
    force_new: bool = False
    ordered: bool = True


Rule = str | Block


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _elements(value: Any) -> list[Mapping[str, Any]]:
    """A block's elements; the bridge flattens a one-element block (MaxItems 1) to an object."""
    if _blank(value):
        return []
    return [value] if isinstance(value, Mapping) else list(value)


def _rule(rules: Mapping[str, Rule], key: str, path: str) -> Rule:
    if key not in rules:
        raise UnhonouredInput(f"no replacement rule for input {path!r}: read it from the provider's source")
    return rules[key]


def _same(old: Any, new: Any) -> bool:
    return old == new or (_blank(old) and _blank(new))


def _replaces(rule: Rule, old: Any, new: Any, path: str) -> bool:
    if _same(old, new):
        return False
    if rule == FORCE_NEW:
        return True
    if rule == IN_PLACE:
        return False
    assert isinstance(rule, Block)
    olds, news = _elements(old), _elements(new)
    if len(olds) != len(news) and rule.force_new:
        return True
    if not rule.ordered:
        removed = [o for o in olds if o not in news]
        added = [n for n in news if n not in olds]
        return any(_holds_force_new(rule, e, path) for e in removed + added)
    for i in range(max(len(olds), len(news))):
        if i >= len(olds) or i >= len(news):
            if _holds_force_new(rule, (olds if i < len(olds) else news)[i], path):
                return True
            continue
        o, n = olds[i], news[i]
        for key in set(o) | set(n):
            if _replaces(_rule(rule.fields, key, f"{path}[{i}].{key}"), o.get(key), n.get(key), path):
                return True
    return False


def _holds_force_new(block: Block, element: Mapping[str, Any], path: str) -> bool:
    """Whether adding or removing this element replaces: it has a non-empty ForceNew field."""
    for key, value in element.items():
        if _blank(value):
            continue
        rule = _rule(block.fields, key, f"{path}.{key}")
        if rule == FORCE_NEW:
            return True
        if isinstance(rule, Block) and (
            rule.force_new or any(_holds_force_new(rule, e, f"{path}.{key}") for e in _elements(value))
        ):
            return True
    return False


def replacing_inputs(rules: Mapping[str, Rule], old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The top-level inputs whose change from `old` to `new` makes the provider replace."""
    return [
        key
        for key in sorted(set(old) | set(new))
        if _replaces(_rule(rules, key, key), old.get(key), new.get(key), key)
    ]


def replaced_on_request(paths: tuple[str, ...], old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a change falls under the resource's `replaceOnChanges`, matched as the engine does
    (pkg/resource/deploy/step_generator.go applyReplaceOnChanges: the path must contain the
    changed path). Honoured paths: "*", an input name (any change at or below it) and
    "name[*]" (a change of an element: both values are collections; the SDKs add
    "triggers[*]" for pulumi-command's schema)."""
    for path in paths:
        name, elements = (path[:-3], True) if path.endswith("[*]") else (path, False)
        if path != "*" and not name.isidentifier():
            raise UnhonouredInput(f"replaceOnChanges path {path!r} is not honoured")
        keys = set(old) | set(new) if path == "*" else {name}
        for key in keys:
            before, after = old.get(key), new.get(key)
            if _same(before, after) or (elements and (_blank(before) or _blank(after))):
                continue
            return True
    return False


# labelSchema (kreuzwerker internal/provider/helpers.go newLabelSchema(true)): label and value
# are ForceNew, so any label change replaces a network, volume, container or secret.
_LABEL_SET = Block({"label": FORCE_NEW, "value": FORCE_NEW}, force_new=True, ordered=False)
_COMMAND_INPUTS: dict[str, Rule] = {
    # pulumi-command provider/pkg/provider/common/inputs.go: only `triggers` carries
    # provider:"replaceOnChanges"; the Command has no custom Diff, so pulumi-go-provider's default
    # diff (infer/resource.go) makes every other change an update (`update`, else `create`).
    "triggers": FORCE_NEW,
    "create": IN_PLACE,
    "update": IN_PLACE,
    "delete": IN_PLACE,
    "stdin": IN_PLACE,
    "interpreter": IN_PLACE,
    "addPreviousOutputInEnv": IN_PLACE,
}
_TLS_SUBJECT = FORCE_NEW  # subject block and each of its attributes: RequiresReplace


# terraform-provider-random's RandomPassword arguments besides `keepers` (the acting mocks honour
# these).
RANDOM_PASSWORD_ARGUMENTS = (
    "length",
    "special",
    "upper",
    "lower",
    "numeric",
    "number",
    "minUpper",
    "minLower",
    "minNumeric",
    "minSpecial",
    "overrideSpecial",
)

PROVIDER_REPLACEMENT: dict[str, dict[str, Rule]] = {
    # pulumi-docker provider/resources.go sets no ForcesProviderReplace on the provider config,
    # so the bridge's DiffConfig (pkg/tfbridge/provider.go configDiffer) never replaces it.
    "pulumi:providers:docker": {"host": IN_PLACE, "version": IN_PLACE, "sshOpts": IN_PLACE},
    # resource_docker_network.go: no Update at all, every field ForceNew.
    "docker:index/network:Network": {
        "name": FORCE_NEW,
        "driver": FORCE_NEW,
        "internal": FORCE_NEW,
        "attachable": FORCE_NEW,
        "options": FORCE_NEW,
        "labels": _LABEL_SET,
    },
    # resource_docker_volume.go: name, driver, driver_opts, labels ForceNew; the Update only
    # changes cluster.availability (a Swarm cluster volume).
    "docker:index/volume:Volume": {
        "name": FORCE_NEW,
        "driver": FORCE_NEW,
        "driverOpts": FORCE_NEW,
        "labels": _LABEL_SET,
    },
    # resource_docker_image.go (docker_image = RemoteImage): name ForceNew, keep_locally updatable.
    "docker:index/remoteImage:RemoteImage": {"name": FORCE_NEW, "keepLocally": IN_PLACE},
    # resource_docker_container.go; resourceDockerContainerUpdate (..._funcs.go) applies only
    # restart, max_retry_count, memory, memory_swap (and cpu_shares, cpu_set, blkio limits) and
    # starts a container whose must_run went true. The other non-ForceNew inputs below (tmpfs,
    # healthcheck, init, and a mount's type/source/target/read_only at an unchanged count) are
    # IN_PLACE without being applied: the running container keeps the old value.
    "docker:index/container:Container": {
        "name": FORCE_NEW,
        "image": FORCE_NEW,
        "user": FORCE_NEW,
        "command": FORCE_NEW,
        "entrypoints": FORCE_NEW,
        "envs": FORCE_NEW,
        "labels": _LABEL_SET,
        "hostname": FORCE_NEW,
        "workingDir": FORCE_NEW,
        "networksAdvanced": Block({"name": FORCE_NEW, "aliases": FORCE_NEW}, force_new=True, ordered=False),
        "mounts": Block(
            {
                "type": IN_PLACE,
                "source": IN_PLACE,
                "target": IN_PLACE,
                "readOnly": IN_PLACE,
                "tmpfsOptions": Block({"sizeBytes": IN_PLACE, "mode": IN_PLACE}, force_new=True),
            },
            force_new=True,
            ordered=False,
        ),
        "tmpfs": IN_PLACE,
        "readOnly": FORCE_NEW,
        "privileged": FORCE_NEW,
        "ipcMode": FORCE_NEW,
        "networkMode": FORCE_NEW,
        "capabilities": Block({"adds": FORCE_NEW, "drops": FORCE_NEW}, force_new=True, ordered=False),
        "securityOpts": FORCE_NEW,
        "memory": IN_PLACE,
        "memorySwap": IN_PLACE,
        "cpus": FORCE_NEW,
        "healthcheck": IN_PLACE,
        "restart": IN_PLACE,
        "maxRetryCount": IN_PLACE,
        "logDriver": FORCE_NEW,
        "logOpts": FORCE_NEW,
        "ports": Block(
            {"internal": FORCE_NEW, "external": FORCE_NEW, "ip": FORCE_NEW, "protocol": FORCE_NEW},
            force_new=True,
        ),
        "uploads": Block(
            {"file": FORCE_NEW, "content": FORCE_NEW, "contentBase64": FORCE_NEW, "executable": FORCE_NEW},
            force_new=True,
            ordered=False,
        ),
        "mustRun": IN_PLACE,
        "start": IN_PLACE,
        "init": IN_PLACE,
        "stopSignal": FORCE_NEW,
        "stopTimeout": FORCE_NEW,
        "destroyGraceSeconds": IN_PLACE,
        "removeVolumes": IN_PLACE,
    },
    # resource_docker_secret.go: no Update, every field ForceNew.
    "docker:index/secret:Secret": {"name": FORCE_NEW, "data": FORCE_NEW, "labels": _LABEL_SET},
    # resource_docker_service.go (Update exists): ForceNew are name, mode (the block: its count
    # only), the container spec's labels (labelSchema) and each task network attachment's fields.
    "docker:index/service:Service": {
        "name": FORCE_NEW,
        "labels": IN_PLACE,  # labelSchemaUpdatable
        "taskSpec": Block(
            {
                "containerSpec": Block(
                    {
                        "image": IN_PLACE,
                        "args": IN_PLACE,
                        "env": IN_PLACE,
                        "labels": Block({"label": FORCE_NEW, "value": FORCE_NEW}, ordered=False),
                        "user": IN_PLACE,
                        "readOnly": IN_PLACE,
                        "capDrops": IN_PLACE,
                        "capAdds": IN_PLACE,
                        "mounts": IN_PLACE,
                        "secrets": IN_PLACE,
                        "healthcheck": IN_PLACE,
                    }
                ),
                "resources": IN_PLACE,
                "restartPolicy": IN_PLACE,
                "placement": IN_PLACE,
                "networksAdvanceds": Block(
                    {"id": FORCE_NEW, "name": FORCE_NEW, "aliases": FORCE_NEW}, ordered=False
                ),
                "logDriver": IN_PLACE,
            }
        ),
        "mode": Block({"replicated": IN_PLACE}, force_new=True),
        "endpointSpec": IN_PLACE,
    },
    "command:local:Command": dict(_COMMAND_INPUTS),
    # provider/pkg/provider/remote/command.go: `connection` (a new key, host, user) is an update.
    "command:remote:Command": {**_COMMAND_INPUTS, "connection": IN_PLACE},
    # terraform-provider-random internal/provider/resource_password.go (schema version 3): every
    # argument has RequiresReplace (keepers: RequiresReplaceIfValuesNotNull; override_special:
    # unless "" -> null).
    "random:index/randomPassword:RandomPassword": dict.fromkeys(
        ("keepers", *RANDOM_PASSWORD_ARGUMENTS), FORCE_NEW
    ),
    # terraform-provider-tls internal/provider/resource_private_key.go: all RequiresReplace.
    "tls:index/privateKey:PrivateKey": {
        "algorithm": FORCE_NEW,
        "rsaBits": FORCE_NEW,
        "ecdsaCurve": FORCE_NEW,
    },
    # resource_self_signed_cert.go: everything but early_renewal_hours replaces (private_key_pem:
    # requireReplaceIfStateContainsPEMString); a certificate in its renewal window is replaced
    # by ModifyPlan (common_cert.go), which no input change here models.
    "tls:index/selfSignedCert:SelfSignedCert": {
        "privateKeyPem": FORCE_NEW,
        "subject": _TLS_SUBJECT,
        "validityPeriodHours": FORCE_NEW,
        "earlyRenewalHours": IN_PLACE,
        "allowedUses": FORCE_NEW,
        "isCaCertificate": FORCE_NEW,
        "dnsNames": FORCE_NEW,
        "ipAddresses": FORCE_NEW,
        "setSubjectKeyId": FORCE_NEW,
    },
    # resource_cert_request.go: every argument replaces.
    "tls:index/certRequest:CertRequest": {
        "privateKeyPem": FORCE_NEW,
        "subject": _TLS_SUBJECT,
        "dnsNames": FORCE_NEW,
        "ipAddresses": FORCE_NEW,
    },
    # resource_locally_signed_cert.go: everything but early_renewal_hours replaces.
    "tls:index/locallySignedCert:LocallySignedCert": {
        "certRequestPem": FORCE_NEW,
        "caPrivateKeyPem": FORCE_NEW,
        "caCertPem": FORCE_NEW,
        "validityPeriodHours": FORCE_NEW,
        "earlyRenewalHours": IN_PLACE,
        "allowedUses": FORCE_NEW,
        "isCaCertificate": FORCE_NEW,
    },
}

# pulumi-docker provider/resources.go: docker_container has DeleteBeforeReplace (a fixed name
# cannot exist twice). Every other type is replaced create-first, the old one deleted at the end.
PROVIDER_DELETE_BEFORE_REPLACE = frozenset({"docker:index/container:Container"})
