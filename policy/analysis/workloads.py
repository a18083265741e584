"""Containers and Swarm services in one shape.

docker.Container and docker.Service spell the same facts differently (`mounts` vs
`taskSpec.containerSpec.mounts`, `envs` as "K=V" strings vs `env` as a map, `ports` vs
`endpointSpec.ports`, ...). Rules read a Workload and never care which one it was; every fact
keeps the property path it came from, so a message can point at the exact field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .stack import CONTAINER, REMOTE_IMAGE, SERVICE, Resource
from .values import UNKNOWN, as_list, env_map, get_path, is_unknown, label_map

if TYPE_CHECKING:
    from .stack import StackModel

# Role labels (docs/architecture.md). The pack never trusts them alone.
ROLE_LABEL = "encrypted-platform.role"
EGRESS_LABEL = "encrypted-platform.egress"
NETWORK_ROLE_LABEL = "encrypted-platform.network.role"


@dataclass
class Mount:
    kind: Any  # "volume" | "bind" | "tmpfs" | ... | UNKNOWN
    source: Any
    target: Any
    read_only: Any
    field: str
    prop_key: str  # top-level property (for property dependencies)
    driver: Any = None  # volume options: driver that would create the volume on first use
    driver_options: Any = None
    from_container: Any = None
    whole_list_unknown: bool = False


@dataclass
class Port:
    internal: Any
    published: Any
    protocol: Any
    field: str


@dataclass
class Upload:
    path: Any
    content: Any  # str | UNKNOWN | None (None: content comes from `source`, a file on the operator's machine)
    source: Any
    field: str
    prop_key: str


@dataclass
class NetworkAttachment:
    name: Any  # network name or id, UNKNOWN, or a docker built-in ("bridge", "host", ...)
    field: str
    prop_key: str
    implicit: bool = False  # Docker's default attachment (no network given)


@dataclass
class ConfigReference:
    """A Swarm config (or secret) exposed to a service as a file."""

    config_id: Any
    config_name: Any
    file_name: Any
    field: str


@dataclass
class Workload:
    resource: Resource
    kind: str  # "container" | "service"
    docker_name: Any
    image: Any
    image_field: str
    image_prop: str
    argv: list[Any]  # entrypoint + command (+ args)
    argv_field: str
    env: Any  # dict | UNKNOWN
    env_field: str
    labels: Any  # dict | UNKNOWN (container labels, or service labels merged with container-spec labels)
    label_sources: list[tuple[str, Any]]  # (field, dict | UNKNOWN) for Traefik label parsing
    mounts: list[Mount]
    tmpfs: Any
    devices: list[Any]
    ports: list[Port]
    ports_unknown: bool
    publish_all: Any
    networks: list[NetworkAttachment]
    network_mode: Any
    privileged: Any
    cap_add: Any  # list | UNKNOWN
    cap_add_field: str
    security_opts: Any  # list | UNKNOWN | None
    pid_mode: Any
    ipc_mode: Any
    userns_mode: Any
    uploads: list[Upload]
    configs: list[ConfigReference] = field(default_factory=list)
    healthcheck: Any = None
    healthcheck_field: str = "healthcheck"
    memory: Any = None
    memory_field: str = "memory"
    read_only: Any = None
    read_only_field: str = "readOnly"

    @property
    def label(self) -> str:
        return self.resource.label

    @property
    def name(self) -> str:
        """The name other containers resolve it by (Docker DNS), or the resource name."""
        return self.docker_name if isinstance(self.docker_name, str) else self.resource.name

    def role(self) -> Any:
        if is_unknown(self.labels):
            return UNKNOWN
        return (self.labels or {}).get(ROLE_LABEL)

    def declares_egress(self) -> Any:
        if is_unknown(self.labels):
            return UNKNOWN
        value = (self.labels or {}).get(EGRESS_LABEL)
        if is_unknown(value):
            return UNKNOWN
        return isinstance(value, str) and value.strip().lower() == "true"


def _mounts(raw: Any, *, at: str, prop_key: str) -> list[Mount]:
    """The `mounts` list of a container or of a Swarm service's container spec (same shape).

    An unknown list, or an unknown entry, is one mount of unknown everything (fail closed)."""
    if is_unknown(raw):
        return [Mount(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, at, prop_key, whole_list_unknown=True)]
    mounts: list[Mount] = []
    for i, m in enumerate(as_list(raw)):
        if is_unknown(m):
            mounts.append(
                Mount(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, f"{at}[{i}]", prop_key, whole_list_unknown=True)
            )
            continue
        m = m if isinstance(m, dict) else {}
        mounts.append(
            Mount(
                kind=m.get("type"),
                source=m.get("source"),
                target=m.get("target"),
                read_only=m.get("readOnly"),
                field=f"{at}[{i}]",
                prop_key=prop_key,
                driver=get_path(m, "volumeOptions", "driverName"),
                driver_options=get_path(m, "volumeOptions", "driverOptions"),
            )
        )
    return mounts


def _container(resource: Resource) -> Workload:
    p = resource.props
    mounts = _mounts(p.get("mounts"), at="mounts", prop_key="mounts")
    raw_volumes = p.get("volumes")
    if is_unknown(raw_volumes):
        mounts.append(
            Mount(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, "volumes", "volumes", whole_list_unknown=True)
        )
    for i, v in enumerate(as_list(raw_volumes) if not is_unknown(raw_volumes) else []):
        if is_unknown(v):
            mounts.append(
                Mount(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, f"volumes[{i}]", "volumes", whole_list_unknown=True)
            )
            continue
        v = v if isinstance(v, dict) else {}
        host_path, volume_name = v.get("hostPath"), v.get("volumeName")
        if host_path is not None:
            kind, source = "bind", host_path
        elif v.get("fromContainer") is not None:
            kind, source = "volumes-from", v.get("fromContainer")
        else:
            # volumeName (named volume) or nothing at all (an anonymous volume Docker creates)
            kind, source = "volume", volume_name
        mounts.append(
            Mount(
                kind=kind,
                source=source,
                target=v.get("containerPath"),
                read_only=v.get("readOnly"),
                field=f"volumes[{i}]",
                prop_key="volumes",
                from_container=v.get("fromContainer"),
            )
        )

    ports: list[Port] = []
    raw_ports = p.get("ports")
    ports_unknown = is_unknown(raw_ports)
    for i, port in enumerate(as_list(raw_ports) if not ports_unknown else []):
        if is_unknown(port):
            ports_unknown = True
            continue
        port = port if isinstance(port, dict) else {}
        ports.append(Port(port.get("internal"), port.get("external"), port.get("protocol"), f"ports[{i}]"))

    network_mode = p.get("networkMode")
    networks: list[NetworkAttachment] = []
    advanced = p.get("networksAdvanced")
    if is_unknown(advanced):
        networks.append(NetworkAttachment(UNKNOWN, "networksAdvanced", "networksAdvanced"))
    else:
        for i, n in enumerate(as_list(advanced)):
            name = n.get("name") if isinstance(n, dict) else n
            networks.append(NetworkAttachment(name, f"networksAdvanced[{i}].name", "networksAdvanced"))
    # The docker provider disconnects the default bridge when networksAdvanced is set; a custom
    # network_mode stays attached as well.
    if is_unknown(network_mode):
        networks.append(NetworkAttachment(UNKNOWN, "networkMode", "networkMode"))
    elif not networks:
        networks.append(
            NetworkAttachment(
                network_mode or "bridge", "networkMode", "networkMode", implicit=network_mode is None
            )
        )
    elif isinstance(network_mode, str) and network_mode not in ("bridge", "default", ""):
        networks.append(NetworkAttachment(network_mode, "networkMode", "networkMode"))

    uploads: list[Upload] = []
    raw_uploads = p.get("uploads")
    if is_unknown(raw_uploads):
        uploads.append(Upload(UNKNOWN, UNKNOWN, None, "uploads", "uploads"))
    for i, u in enumerate(as_list(raw_uploads) if not is_unknown(raw_uploads) else []):
        if is_unknown(u):
            uploads.append(Upload(UNKNOWN, UNKNOWN, None, f"uploads[{i}]", "uploads"))
            continue
        u = u if isinstance(u, dict) else {}
        content = u.get("content")
        if content is None and u.get("contentBase64") is not None:
            content = _b64(u.get("contentBase64"))
        uploads.append(Upload(u.get("file"), content, u.get("source"), f"uploads[{i}]", "uploads"))

    argv = [*_str_list(p.get("entrypoints")), *_str_list(p.get("command"))]
    labels = label_map(p.get("labels"))
    return Workload(
        resource=resource,
        kind="container",
        docker_name=p.get("name"),
        image=p.get("image"),
        image_field="image",
        image_prop="image",
        argv=argv,
        argv_field="command",
        env=env_map(p.get("envs")),
        env_field="envs",
        labels=labels,
        label_sources=[("labels", labels)],
        mounts=mounts,
        tmpfs=p.get("tmpfs"),
        devices=as_list(p.get("devices")),
        ports=ports,
        ports_unknown=ports_unknown,
        publish_all=p.get("publishAllPorts"),
        networks=networks,
        network_mode=network_mode,
        privileged=p.get("privileged"),
        cap_add=_unknown_or_list(get_path(p, "capabilities", "adds")),
        cap_add_field="capabilities.adds",
        security_opts=_unknown_or_list(p.get("securityOpts")) if p.get("securityOpts") is not None else None,
        pid_mode=p.get("pidMode"),
        ipc_mode=p.get("ipcMode"),
        userns_mode=p.get("usernsMode"),
        uploads=uploads,
        healthcheck=p.get("healthcheck"),
        memory=p.get("memory"),
        read_only=p.get("readOnly"),
    )


def _service(resource: Resource) -> Workload:
    p = resource.props
    spec = get_path(p, "taskSpec", "containerSpec")
    spec_unknown = is_unknown(p.get("taskSpec")) or is_unknown(spec)
    spec = spec if isinstance(spec, dict) else {}
    base = "taskSpec.containerSpec"

    mounts = _mounts(
        UNKNOWN if spec_unknown else spec.get("mounts"), at=f"{base}.mounts", prop_key="taskSpec"
    )

    ports: list[Port] = []
    raw_ports = get_path(p, "endpointSpec", "ports")
    ports_unknown = is_unknown(raw_ports)
    for i, port in enumerate(as_list(raw_ports) if not ports_unknown else []):
        if is_unknown(port):
            ports_unknown = True
            continue
        port = port if isinstance(port, dict) else {}
        ports.append(
            Port(
                port.get("targetPort"),
                port.get("publishedPort"),
                port.get("protocol"),
                f"endpointSpec.ports[{i}]",
            )
        )

    networks: list[NetworkAttachment] = []
    advanced = UNKNOWN if is_unknown(p.get("taskSpec")) else get_path(p, "taskSpec", "networksAdvanceds")
    if is_unknown(advanced):
        networks.append(NetworkAttachment(UNKNOWN, "taskSpec.networksAdvanceds", "taskSpec"))
    else:
        for i, n in enumerate(as_list(advanced)):
            name = n.get("name") if isinstance(n, dict) else n
            networks.append(NetworkAttachment(name, f"taskSpec.networksAdvanceds[{i}].name", "taskSpec"))
    if not networks:
        # A task without networks gets Swarm's default attachments (ingress routing mesh for
        # published ports, docker_gwbridge for outbound traffic): not internal.
        networks.append(
            NetworkAttachment("docker_gwbridge", "taskSpec.networksAdvanceds", "taskSpec", implicit=True)
        )

    configs: list[ConfigReference] = []
    for kind in ("configs", "secrets"):
        raw = UNKNOWN if spec_unknown else spec.get(kind)
        for i, c in enumerate(as_list(raw)):
            if is_unknown(c):
                configs.append(ConfigReference(UNKNOWN, UNKNOWN, UNKNOWN, f"{base}.{kind}[{i}]"))
                continue
            c = c if isinstance(c, dict) else {}
            configs.append(
                ConfigReference(
                    c.get("configId", c.get("secretId")),
                    c.get("configName", c.get("secretName")),
                    c.get("fileName"),
                    f"{base}.{kind}[{i}]",
                )
            )

    service_labels = label_map(p.get("labels"))
    spec_labels = UNKNOWN if spec_unknown else label_map(spec.get("labels"))
    if is_unknown(service_labels) or is_unknown(spec_labels):
        labels: Any = UNKNOWN
    else:
        labels = {**spec_labels, **service_labels}
    argv = [*_str_list(UNKNOWN if spec_unknown else spec.get("commands")), *_str_list(spec.get("args"))]
    return Workload(
        resource=resource,
        kind="service",
        docker_name=p.get("name"),
        image=UNKNOWN if spec_unknown else spec.get("image"),
        image_field=f"{base}.image",
        image_prop="taskSpec",
        argv=argv,
        argv_field=f"{base}.commands/args",
        env=UNKNOWN if spec_unknown else env_map(spec.get("env")),
        env_field=f"{base}.env",
        labels=labels,
        label_sources=[("labels", service_labels), (f"{base}.labels", spec_labels)],
        mounts=mounts,
        tmpfs=None,
        devices=[],
        ports=ports,
        ports_unknown=ports_unknown,
        publish_all=None,
        networks=networks,
        network_mode=None,
        privileged=None,  # Swarm has no privileged mode
        cap_add=UNKNOWN if spec_unknown else _unknown_or_list(spec.get("capAdds")),
        cap_add_field=f"{base}.capAdds",
        security_opts=None,
        pid_mode=None,
        ipc_mode=None,
        userns_mode=None,
        uploads=[],
        configs=configs,
        healthcheck=UNKNOWN if spec_unknown else spec.get("healthcheck"),
        healthcheck_field=f"{base}.healthcheck",
        memory=get_path(p, "taskSpec", "resources", "limits", "memoryBytes"),
        memory_field="taskSpec.resources.limits.memoryBytes",
        read_only=UNKNOWN if spec_unknown else spec.get("readOnly"),
        read_only_field=f"{base}.readOnly",
    )


def _str_list(value: Any) -> list[Any]:
    if is_unknown(value):
        return [UNKNOWN]
    return [v for v in as_list(value)]


def _unknown_or_list(value: Any) -> Any:
    if is_unknown(value):
        return UNKNOWN
    return as_list(value)


def _b64(value: Any) -> Any:
    import base64
    import binascii

    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def workload_of(resource: Resource) -> Workload | None:
    if resource.type == CONTAINER:
        return _container(resource)
    if resource.type == SERVICE:
        return _service(resource)
    return None


def workloads_of(model: StackModel) -> list[Workload]:
    out = []
    for r in model.of_type(CONTAINER, SERVICE):
        w = workload_of(r)
        if w is not None:
            out.append(w)
    return out


def images_of(model: StackModel, w: Workload) -> list[str] | None:
    """The image references a workload runs: a docker.RemoteImage it takes the image from (its
    `image_id` output is a content id without the name), else the literal reference; None when
    neither is known."""
    names = [s.props.get("name") for s in model.property_sources(w.resource, w.image_prop, [REMOTE_IMAGE])]
    if names:
        return [str(n) for n in names] if all(isinstance(n, str) for n in names) else None
    if isinstance(w.image, str):
        return [w.image]
    return None
