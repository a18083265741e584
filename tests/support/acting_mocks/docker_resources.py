"""Executors of the docker provider's resources: the provider itself, networks, volumes, images
(never pulled: mapped to local stand-ins), containers, Swarm secrets and services."""

from __future__ import annotations

import base64
import contextlib
import io
import re
import secrets
import tarfile
import time
import uuid
from collections.abc import Mapping
from typing import Any

import docker
from docker.types import Healthcheck, LogConfig, Mount

from .executor import Context, Executor, Recorded, Request
from .inputs import HONOURED, UnhonouredInput, as_int


def _memory_swap_bytes(inputs: Mapping[str, Any]) -> int | None:
    """As the provider passes memory_swap: MiB when positive, -1 (no limit the daemon can set) as is."""
    if "memorySwap" not in inputs:
        return None
    swap = as_int(inputs["memorySwap"])
    return swap * 1024 * 1024 if swap > 0 else (swap or None)


def _duration_ns(value: str) -> int:
    """Go durations as the provider accepts them ('30s', '1m30s', '500ms') -> nanoseconds."""
    units = {
        "ns": 1,
        "us": 1_000,
        "ms": 1_000_000,
        "s": 1_000_000_000,
        "m": 60_000_000_000,
        "h": 3_600_000_000_000,
    }
    total = 0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value):
        total += int(float(number) * units[unit])
    if total == 0 and value not in ("0", "0s"):
        raise UnhonouredInput(f"cannot parse duration {value!r}")
    return total


_HEALTHCHECK = {
    "tests": HONOURED,
    "interval": HONOURED,
    "timeout": HONOURED,
    "retries": HONOURED,
    "startPeriod": HONOURED,
}


def _healthcheck(health: Mapping[str, Any] | None) -> Healthcheck | None:
    """A healthcheck block (a container's or a service's) as the engine takes it."""
    if not health:
        return None
    return Healthcheck(
        test=health["tests"],
        interval=_duration_ns(health.get("interval", "0s")),
        timeout=_duration_ns(health.get("timeout", "0s")),
        retries=as_int(health.get("retries", 0)),
        start_period=_duration_ns(health.get("startPeriod", "0s")),
    )


class DockerProviderExecutor(Executor):
    type = "pulumi:providers:docker"
    fields = {"host": HONOURED, "version": HONOURED}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        host = req.inputs.get("host")
        if not host:
            raise UnhonouredInput(f"docker provider {req.name!r} without host")
        client = ctx.open_client(host)
        client.ping()
        provider_id = str(uuid.uuid4())
        ctx.clients[f"{req.urn}::{provider_id}"] = client
        return provider_id, dict(req.inputs)

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        ctx.clients[f"{req.urn}::{previous.id}"] = ctx.open_client(req.inputs["host"])
        return previous.id, dict(req.inputs)

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        ctx.clients.pop(f"{recorded.request.urn}::{recorded.id}", None)


_LABELS = {"label": HONOURED, "value": HONOURED}


def _labels(items: list[Mapping[str, str]] | None) -> dict[str, str]:
    return {item["label"]: item["value"] for item in items or []}


class NetworkExecutor(Executor):
    type = "docker:index/network:Network"
    fields = {
        "name": HONOURED,
        "driver": HONOURED,
        "internal": HONOURED,
        "attachable": HONOURED,
        "options": HONOURED,
        "labels": _LABELS,
    }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        i = req.inputs
        network = ctx.client(req.provider).networks.create(
            i.get("name") or req.name,
            driver=i.get("driver", "bridge"),
            internal=bool(i.get("internal", False)),
            attachable=bool(i.get("attachable", False)) if i.get("driver") == "overlay" else None,
            options=i.get("options"),
            labels=_labels(i.get("labels")),
            check_duplicate=True,
        )
        return network.id, {**i, "name": network.name}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            ctx.client(recorded.request.provider).networks.get(recorded.id).remove()


class VolumeExecutor(Executor):
    type = "docker:index/volume:Volume"
    fields = {"name": HONOURED, "driver": HONOURED, "driverOpts": HONOURED, "labels": _LABELS}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        i = req.inputs
        volume = ctx.client(req.provider).volumes.create(
            name=i.get("name") or req.name,
            driver=i.get("driver", "local"),
            driver_opts=i.get("driverOpts"),
            labels=_labels(i.get("labels")),
        )
        return volume.name, {**i, "name": volume.name, "mountpoint": volume.attrs.get("Mountpoint", "")}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            ctx.client(recorded.request.provider).volumes.get(recorded.id).remove()


class RemoteImageExecutor(Executor):
    """Never pulls: maps the pinned reference to a locally imported stand-in (ctx.image_map)."""

    type = "docker:index/remoteImage:RemoteImage"
    fields = {"name": HONOURED, "keepLocally": HONOURED}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        reference = req.inputs["name"]
        if not req.inputs.get("keepLocally", False):
            raise UnhonouredInput(
                f"RemoteImage {req.name!r}: keepLocally=false (removing images) is not honoured"
            )
        local = ctx.image_map.get(reference)
        if local is None:
            raise UnhonouredInput(
                f"RemoteImage {req.name!r}: no stand-in declared for {reference!r} in the test's image_map"
            )
        image = ctx.client(req.provider).images.get(local)
        ctx.log.append(f"image {reference} -> stand-in {local} ({image.id[:19]})")
        return f"{image.id}{reference}", {**req.inputs, "imageId": image.id, "repoDigest": ""}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        return None  # keepLocally


class ContainerExecutor(Executor):
    type = "docker:index/container:Container"
    fields = {
        "name": HONOURED,
        "image": HONOURED,
        "user": HONOURED,
        "command": HONOURED,
        "entrypoints": HONOURED,
        "envs": HONOURED,
        "labels": _LABELS,
        "hostname": HONOURED,
        "workingDir": HONOURED,
        "networksAdvanced": {"name": HONOURED, "aliases": HONOURED},
        "mounts": {
            "type": HONOURED,
            "source": HONOURED,
            "target": HONOURED,
            "readOnly": HONOURED,
            "tmpfsOptions": {"sizeBytes": HONOURED, "mode": HONOURED},
        },
        "tmpfs": HONOURED,
        "readOnly": HONOURED,
        "privileged": HONOURED,
        "ipcMode": HONOURED,
        "networkMode": HONOURED,
        "capabilities": {"adds": HONOURED, "drops": HONOURED},
        "securityOpts": HONOURED,
        "memory": HONOURED,
        "memorySwap": HONOURED,
        "cpus": HONOURED,
        "healthcheck": _HEALTHCHECK,
        "restart": HONOURED,
        "maxRetryCount": HONOURED,
        "logDriver": HONOURED,
        "logOpts": HONOURED,
        "ports": {"internal": HONOURED, "external": HONOURED, "ip": HONOURED, "protocol": HONOURED},
        "uploads": {"file": HONOURED, "content": HONOURED, "contentBase64": HONOURED, "executable": HONOURED},
        "mustRun": HONOURED,
        "start": HONOURED,
        "init": HONOURED,
        "stopSignal": HONOURED,
        "stopTimeout": HONOURED,
        "destroyGraceSeconds": HONOURED,
        "removeVolumes": HONOURED,
    }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        i = req.inputs
        client = ctx.client(req.provider)
        api = client.api
        mounts = []
        for m in i.get("mounts") or []:
            kind = m.get("type", "volume")
            if kind not in ("volume", "tmpfs", "bind"):
                raise UnhonouredInput(f"container {req.name!r}: mount type {kind!r}")
            tmpfs = m.get("tmpfsOptions") or {}
            mounts.append(
                Mount(
                    target=m["target"],
                    source=m.get("source"),
                    type=kind,
                    read_only=bool(m.get("readOnly", False)),
                    tmpfs_size=as_int(tmpfs["sizeBytes"]) if "sizeBytes" in tmpfs else None,
                    tmpfs_mode=as_int(tmpfs["mode"]) if "mode" in tmpfs else None,
                )
            )
        port_bindings: dict[str, Any] = {}
        exposed = []
        for p in i.get("ports") or []:
            protocol = p.get("protocol", "tcp")
            exposed.append((as_int(p["internal"]), protocol))
            # The provider's default host address is 0.0.0.0 (here: inside the lab host's namespace).
            host = (p.get("ip", "0.0.0.0"), as_int(p["external"]) if "external" in p else None)  # noqa: S104
            port_bindings[f"{as_int(p['internal'])}/{protocol}"] = host
        restart = {"Name": i.get("restart", "no")}
        if restart["Name"] == "on-failure":
            restart["MaximumRetryCount"] = as_int(i.get("maxRetryCount", 0))
        caps = i.get("capabilities") or {}
        host_config = api.create_host_config(
            mounts=mounts or None,
            tmpfs=i.get("tmpfs"),
            read_only=bool(i.get("readOnly", False)),
            privileged=bool(i.get("privileged", False)),
            ipc_mode=i.get("ipcMode"),
            cap_add=caps.get("adds"),
            cap_drop=caps.get("drops"),
            security_opt=i.get("securityOpts"),
            mem_limit=as_int(i["memory"]) * 1024 * 1024 if "memory" in i else None,
            memswap_limit=_memory_swap_bytes(i),
            nano_cpus=int(float(i["cpus"]) * 1e9) if "cpus" in i else None,
            restart_policy=restart,
            log_config=LogConfig(type=i.get("logDriver", "json-file"), config=i.get("logOpts") or {}),
            port_bindings=port_bindings or None,
            # Unset: the engine's default (bridge); the provider disconnects it before the start.
            network_mode=i.get("networkMode"),
            init=bool(i.get("init", False)),
        )
        created = api.create_container(
            image=i["image"],
            name=i.get("name") or req.name,
            user=i.get("user"),
            command=i.get("command"),
            entrypoint=i.get("entrypoints"),
            environment=i.get("envs"),
            labels=_labels(i.get("labels")),
            hostname=i.get("hostname"),
            working_dir=i.get("workingDir"),
            healthcheck=_healthcheck(i.get("healthcheck")),
            ports=exposed or None,
            stop_signal=i.get("stopSignal"),
            stop_timeout=as_int(i["stopTimeout"]) if "stopTimeout" in i else None,
            host_config=host_config,
        )
        container_id = created["Id"]
        if i.get("networksAdvanced"):
            with contextlib.suppress(docker.errors.APIError):
                api.disconnect_container_from_network(container_id, "bridge")
            for network in i["networksAdvanced"]:
                api.connect_container_to_network(
                    container_id, network["name"], aliases=network.get("aliases")
                )
        for upload in i.get("uploads") or []:
            content = (
                base64.b64decode(upload["contentBase64"])
                if "contentBase64" in upload
                else upload["content"].encode()
            )
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                info = tarfile.TarInfo(upload["file"].lstrip("/"))
                info.size = len(content)
                info.mode = 0o744 if upload.get("executable") else 0o644
                tar.addfile(info, io.BytesIO(content))
            if not api.put_archive(container_id, "/", buffer.getvalue()):
                raise RuntimeError(f"upload of {upload['file']} into {req.name} failed")
        if i.get("start", True):
            api.start(container_id)
            if i.get("mustRun", True):
                time.sleep(0.3)
                state = api.inspect_container(container_id)["State"]
                if not state["Running"] and state.get("ExitCode", 0) != 0:
                    logs = api.logs(container_id, tail=20).decode(errors="replace")
                    raise RuntimeError(f"container {req.name} exited ({state['ExitCode']}):\n{logs}")
        return container_id, {**i, "id": container_id}

    # What resourceDockerContainerUpdate (resource_docker_container_funcs.go) applies to the
    # running container; every other IN_PLACE input only changes the state.
    UPDATED_BY_DOCKER_UPDATE = ("restart", "maxRetryCount", "memory", "memorySwap")

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        i, old = req.inputs, previous.request.inputs
        api = ctx.client(req.provider).api
        if i.get("mustRun", True) and not old.get("mustRun", True) and i.get("start", True):
            api.start(previous.id)
        if any(i.get(k) != old.get(k) for k in self.UPDATED_BY_DOCKER_UPDATE):
            restart = {"Name": i.get("restart", "no"), "MaximumRetryCount": as_int(i.get("maxRetryCount", 0))}
            memory = as_int(i.get("memory", 0)) * 1024 * 1024
            api.update_container(
                previous.id, restart_policy=restart, mem_limit=memory, memswap_limit=_memory_swap_bytes(i)
            )
        return previous.id, {**previous.outputs, **i}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        api = ctx.client(recorded.request.provider).api
        with contextlib.suppress(docker.errors.NotFound):
            grace = as_int(recorded.request.inputs.get("destroyGraceSeconds", 0))
            if grace:
                api.stop(recorded.id, timeout=grace)
            api.remove_container(
                recorded.id, force=True, v=bool(recorded.request.inputs.get("removeVolumes", True))
            )


class SecretExecutor(Executor):
    """Swarm secrets. An unset name gets the provider's auto-name: '<resource name>-<7 hex>'."""

    type = "docker:index/secret:Secret"
    fields = {"data": HONOURED, "labels": _LABELS, "name": HONOURED}

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        name = req.inputs.get("name") or f"{req.name}-{secrets.token_hex(4)[:7]}"
        created = ctx.client(req.provider).api.create_secret(
            name, base64.b64decode(req.inputs["data"]), labels=_labels(req.inputs.get("labels"))
        )
        return created["ID"], {**req.inputs, "name": name}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            ctx.client(recorded.request.provider).api.remove_secret(recorded.id)


class ServiceExecutor(Executor):
    """Swarm services through the engine's service API, from the declared task spec. Like the
    provider without convergeConfig, it returns once the engine accepted the spec; tests wait for
    the tasks themselves."""

    type = "docker:index/service:Service"
    fields = {
        "name": HONOURED,
        "labels": _LABELS,
        "taskSpec": {
            "containerSpec": {
                "image": HONOURED,
                "args": HONOURED,
                "env": HONOURED,
                "labels": _LABELS,
                "user": HONOURED,
                "readOnly": HONOURED,
                "capDrops": HONOURED,
                "capAdds": HONOURED,
                "mounts": {
                    "type": HONOURED,
                    "source": HONOURED,
                    "target": HONOURED,
                    "readOnly": HONOURED,
                    "volumeOptions": {"driverName": HONOURED, "driverOptions": HONOURED},
                    "tmpfsOptions": {"sizeBytes": HONOURED, "mode": HONOURED},
                },
                "secrets": {
                    "secretId": HONOURED,
                    "secretName": HONOURED,
                    "fileName": HONOURED,
                    "fileUid": HONOURED,
                    "fileGid": HONOURED,
                    "fileMode": HONOURED,
                },
                "healthcheck": _HEALTHCHECK,
            },
            "resources": {"limits": {"memoryBytes": HONOURED, "nanoCpus": HONOURED}},
            "restartPolicy": {"condition": HONOURED},
            "placement": {"constraints": HONOURED},
            "networksAdvanceds": {"id": HONOURED, "aliases": HONOURED},
            "logDriver": {"name": HONOURED, "options": HONOURED},
        },
        "mode": {"replicated": {"replicas": HONOURED}},
        "endpointSpec": {"mode": HONOURED},
    }

    def _spec(self, ctx: Context, req: Request) -> tuple[Any, dict[str, Any]]:
        from docker import types

        i = req.inputs
        task = i["taskSpec"]
        spec = task["containerSpec"]
        mounts = []
        for m in spec.get("mounts") or []:
            volume = m.get("volumeOptions") or {}
            tmpfs = m.get("tmpfsOptions") or {}
            mounts.append(
                types.Mount(
                    target=m["target"],
                    source=m.get("source"),
                    type=m.get("type", "volume"),
                    read_only=bool(m.get("readOnly", False)),
                    driver_config=(
                        types.DriverConfig(volume["driverName"], volume.get("driverOptions"))
                        if volume
                        else None
                    ),
                    tmpfs_size=as_int(tmpfs["sizeBytes"]) if "sizeBytes" in tmpfs else None,
                    tmpfs_mode=as_int(tmpfs["mode"]) if "mode" in tmpfs else None,
                )
            )
        secret_refs = [
            types.SecretReference(
                secret_id=ref["secretId"],
                secret_name=ref["secretName"],
                filename=ref.get("fileName"),
                uid=ref.get("fileUid", "0"),
                gid=ref.get("fileGid", "0"),
                mode=as_int(ref.get("fileMode", 0o444)),
            )
            for ref in spec.get("secrets") or []
        ]
        container_spec = types.ContainerSpec(
            image=ctx.image_map[spec["image"]] if spec["image"] in ctx.image_map else _unmapped(spec),
            args=spec.get("args"),
            env=spec.get("env"),
            labels=_labels(spec.get("labels")),
            user=spec.get("user"),
            read_only=spec.get("readOnly"),
            cap_drop=spec.get("capDrops"),
            cap_add=spec.get("capAdds"),
            mounts=mounts or None,
            secrets=secret_refs or None,
            healthcheck=_healthcheck(spec.get("healthcheck")),
        )
        limits = (task.get("resources") or {}).get("limits") or {}
        log = task.get("logDriver")
        template = types.TaskTemplate(
            container_spec=container_spec,
            resources=types.Resources(
                mem_limit=as_int(limits["memoryBytes"]) if "memoryBytes" in limits else None,
                cpu_limit=as_int(limits["nanoCpus"]) if "nanoCpus" in limits else None,
            ),
            restart_policy=types.RestartPolicy(
                condition=(task.get("restartPolicy") or {}).get("condition", "any")
            ),
            placement=types.Placement(constraints=(task.get("placement") or {}).get("constraints")),
            log_driver=types.DriverConfig(log["name"], log.get("options")) if log else None,
            networks=[
                types.NetworkAttachmentConfig(target=n["id"], aliases=n.get("aliases"))
                for n in task.get("networksAdvanceds") or []
            ],
        )
        replicas = as_int(((i.get("mode") or {}).get("replicated") or {}).get("replicas", 1))
        return template, {
            "name": i.get("name") or req.name,
            "labels": _labels(i.get("labels")),
            "mode": types.ServiceMode("replicated", replicas=replicas),
            "endpoint_spec": types.EndpointSpec(mode=(i.get("endpointSpec") or {}).get("mode", "vip")),
        }

    def create(self, ctx: Context, req: Request) -> tuple[str, dict[str, Any]]:
        template, service = self._spec(ctx, req)
        created = ctx.client(req.provider).api.create_service(template, **service)
        return created["ID"], {**req.inputs, "id": created["ID"]}

    def update(self, ctx: Context, req: Request, previous: Recorded) -> tuple[str, dict[str, Any]]:
        """The provider's resourceDockerServiceUpdate: the whole new spec at the current version."""
        template, service = self._spec(ctx, req)
        api = ctx.client(req.provider).api
        version = api.inspect_service(previous.id)["Version"]["Index"]
        api.update_service(previous.id, version, task_template=template, **service)
        return previous.id, {**previous.outputs, **req.inputs}

    def delete(self, ctx: Context, recorded: Recorded) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            ctx.client(recorded.request.provider).api.remove_service(recorded.id)


def _unmapped(spec: Mapping[str, Any]) -> str:
    raise UnhonouredInput(f"Service image {spec['image']!r}: no stand-in declared in the test's image_map")
