"""PlatformService: one hardened container of the platform.

Pure part (`service_specs`): typed settings plus the network plan become a plain `ServiceSpec` per
service. Hardening is not configurable: all capabilities dropped (only the listed ones added
back), no-new-privileges, read-only root filesystem with tmpfs scratch paths, never privileged,
no host network/PID/IPC namespace, no published port, memory (without swap) and process limits,
a bounded local log buffer, and persistent paths only on EncryptedVolumes.

Imperative shell (`PlatformService`): the image, the container, one SecretFile per secret (value
on the host Command's stdin only, written onto the secrets EncryptedVolume under
services/<name>/), the docker.Volume that binds that directory read-only at /run/secrets, and the
Command that sets the PID limit (pulumi-docker 5.2's Container has no pids argument;
`docker update --pids-limit` sets the same cgroup limit on the created container).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from components.at_rest.encrypted_volume import EncryptedVolume, volume_labels
from components.at_rest.secret_file import SecretFile, SecretFileArgs
from components.host import (
    CONTAINER_REPLACE_ON_CHANGES,
    DockerHost,
    container_capabilities,
    pids_limit_command,
)
from components.isolation.network import NAME_PREFIX, Attachment, NetworkPlan
from components.settings import StackSettings
from components.settings.services import CA_BUNDLE_FILE, CA_BUNDLE_VARIABLES, SERVICE_FILES_DIR

ROLE_LABEL = f"{NAME_PREFIX}.role"
SERVICE_LABEL = f"{NAME_PREFIX}.service"
EGRESS_LABEL = f"{NAME_PREFIX}.egress"
ENDPOINTS_LABEL = f"{NAME_PREFIX}.endpoints"
PIDS_LABEL = f"{NAME_PREFIX}.pids-limit"
FILES_LABEL = f"{NAME_PREFIX}.files-of"

SECURITY_OPTS = ("no-new-privileges:true",)
DROP_CAPABILITIES = ("ALL",)
SECRET_LENGTH = 48  # generated service secrets: alphanumeric, about 285 bits, safe in any syntax
TMPFS_MODE = 0o1777  # scratch space for whatever uid the service runs as; sticky like /tmp
MIB = 1024**2


@dataclass(frozen=True)
class HealthcheckSpec:
    tests: tuple[str, ...]
    interval: str
    timeout: str
    retries: int
    start_period: str

    def provider_args(self) -> dict[str, Any]:
        """The fields as the provider's container and Swarm-task healthcheck arguments name them."""
        return {
            "tests": list(self.tests),
            "interval": self.interval,
            "timeout": self.timeout,
            "retries": self.retries,
            "start_period": self.start_period,
        }


@dataclass(frozen=True)
class ServiceSpec:
    """Everything about one service's container, as plain values."""

    name: str
    container_name: str
    image: str
    user: str | None
    command: tuple[str, ...] | None
    env: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]
    networks: tuple[Attachment, ...]
    volumes: tuple[tuple[str, str], ...]  # (EncryptedVolume name, container path)
    tmpfs: tuple[tuple[str, int], ...]  # (container path, size in bytes)
    secrets: tuple[str, ...]
    ca_bundle: bool
    capabilities: tuple[str, ...]
    memory_bytes: int
    cpus: float | None
    pids: int
    healthcheck: HealthcheckSpec | None
    restart: str
    log_driver: str
    log_opts: tuple[tuple[str, str], ...]
    egress: bool
    endpoints: tuple[str, ...]
    replicas: int = 1
    read_only: bool = field(default=True, init=False)
    security_opts: tuple[str, ...] = field(default=SECURITY_OPTS, init=False)
    drop_capabilities: tuple[str, ...] = field(default=DROP_CAPABILITIES, init=False)

    @property
    def has_files(self) -> bool:
        return bool(self.secrets) or self.ca_bundle

    @property
    def memory_mib(self) -> int:
        return max(4, math.ceil(self.memory_bytes / MIB))


def container_name(service: str) -> str:
    return f"{NAME_PREFIX}-{service}"


def files_volume_name(service: str) -> str:
    return f"{NAME_PREFIX}-{service}-files"


def _size_option(size: int) -> str:
    """A Docker log-opt size ('10m', '512k' or bytes)."""
    if size % MIB == 0:
        return f"{size // MIB}m"
    if size % 1024 == 0:
        return f"{size // 1024}k"
    return str(size)


def resolved_user(settings: StackSettings, service: str) -> str | None:
    """The uid:gid a service runs as: its `user`, else its volumes' dataOwner, else the image's."""
    config = settings.services[service]
    if config.user is not None:
        return config.user
    owners = sorted({settings.volumes[v].data_owner for v in config.volumes if v in settings.volumes})
    return owners[0] if owners else None


def service_specs(settings: StackSettings, plan: NetworkPlan) -> dict[str, ServiceSpec]:
    specs: dict[str, ServiceSpec] = {}
    runtime = settings.runtime
    for name, config in sorted(settings.services.items()):
        if not config.enabled:
            continue
        env = dict(config.env)
        if runtime.ca_bundle:
            for variable in CA_BUNDLE_VARIABLES:
                env[variable] = f"{SERVICE_FILES_DIR}/{CA_BUNDLE_FILE}"
        labels = {ROLE_LABEL: "service", SERVICE_LABEL: name, PIDS_LABEL: str(config.pids)}
        if config.egress:
            labels[EGRESS_LABEL] = "true"
        if config.endpoints:
            labels[ENDPOINTS_LABEL] = " ".join(config.endpoints)
        health = config.healthcheck
        log_opts: dict[str, str] = {}
        if runtime.log_driver == "local":
            log_opts = {
                "max-size": _size_option(runtime.log_max_size),
                "max-file": str(runtime.log_max_files),
            }
        specs[name] = ServiceSpec(
            name=name,
            container_name=container_name(name),
            image=config.image,
            user=resolved_user(settings, name),
            command=tuple(config.command) if config.command is not None else None,
            env=tuple(sorted(env.items())),
            labels=tuple(sorted(labels.items())),
            networks=plan.of(name),
            volumes=tuple(sorted(config.volumes.items())),
            tmpfs=tuple(sorted(config.tmpfs.items())),
            secrets=tuple(sorted(set(config.secrets))),
            ca_bundle=runtime.ca_bundle is not None,
            capabilities=tuple(config.capabilities),
            memory_bytes=config.memory,
            cpus=config.cpus,
            pids=config.pids,
            healthcheck=(
                HealthcheckSpec(
                    tests=tuple(health.test),
                    interval=f"{health.interval}s",
                    timeout=f"{health.timeout}s",
                    retries=health.retries,
                    start_period=f"{health.start_period}s",
                )
                if health
                else None
            ),
            restart=config.restart,
            log_driver=runtime.log_driver,
            log_opts=tuple(sorted(log_opts.items())),
            egress=config.egress,
            endpoints=tuple(config.endpoints),
            replicas=config.replicas,
        )
    return specs


def files_directory(service: str) -> str:
    """A service's directory on the secrets volume, relative to its binds directory."""
    return f"services/{service}"


@dataclass(frozen=True)
class PlatformServiceArgs:
    spec: ServiceSpec
    host: DockerHost
    networks: Mapping[str, docker.Network]  # by NetworkSpec.key
    volumes: Mapping[str, EncryptedVolume]  # every EncryptedVolume of the stack, by name
    secrets_volume: EncryptedVolume | None = None
    secret_values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    ca_bundle: str | None = None


class PlatformService(pulumi.ComponentResource):
    """Children: image, optional service files (Command + bound docker.Volume), container, PID
    limit Command."""

    def __init__(self, name: str, args: PlatformServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("encrypted-platform:service:PlatformService", name, None, opts)
        spec = args.spec
        host = args.host
        on_host = pulumi.ResourceOptions(parent=self, provider=host.provider)

        self.image = docker.RemoteImage(f"{name}-image", name=spec.image, keep_locally=True, opts=on_host)

        mounts: list[docker.ContainerMountArgs] = []
        depends: list[pulumi.Resource] = []
        for volume_name, target in spec.volumes:
            volume = args.volumes[volume_name]
            mounts.append(docker.ContainerMountArgs(type="volume", source=volume.volume_name, target=target))
            depends.append(volume.volume)

        self.files_volume: docker.Volume | None = None
        if spec.has_files:
            self.files_volume = self._files(name, args)
            mounts.append(
                docker.ContainerMountArgs(
                    type="volume",
                    source=self.files_volume.name,
                    target=SERVICE_FILES_DIR,
                    read_only=True,
                )
            )
        for target, size in spec.tmpfs:
            mounts.append(
                docker.ContainerMountArgs(
                    type="tmpfs",
                    target=target,
                    tmpfs_options=docker.ContainerMountTmpfsOptionsArgs(size_bytes=size, mode=TMPFS_MODE),
                )
            )

        health = spec.healthcheck
        self.container = docker.Container(
            name,
            name=spec.container_name,
            image=self.image.image_id,
            user=spec.user,
            command=list(spec.command) if spec.command is not None else None,
            envs=[f"{k}={v}" for k, v in spec.env],
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in spec.labels],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(
                    name=args.networks[a.network].name, aliases=list(a.aliases) or None
                )
                for a in spec.networks
            ],
            mounts=mounts,
            read_only=spec.read_only,
            privileged=False,
            ipc_mode="private",
            capabilities=container_capabilities(adds=spec.capabilities, drops=spec.drop_capabilities),
            security_opts=list(spec.security_opts),
            memory=spec.memory_mib,
            memory_swap=args.host.memory_swap(spec.memory_mib),
            cpus=str(spec.cpus) if spec.cpus is not None else None,
            healthcheck=docker.ContainerHealthcheckArgs(**health.provider_args()) if health else None,
            restart=spec.restart,
            log_driver=spec.log_driver,
            log_opts=dict(spec.log_opts) or None,
            # A fixed container name cannot exist twice: replace by delete, then create.
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=host.provider,
                depends_on=depends,
                delete_before_replace=True,
                replace_on_changes=CONTAINER_REPLACE_ON_CHANGES,
            ),
        )
        self.pids_limit = host.run(
            f"{name}-pids-limit",
            create=pids_limit_command(host, spec.container_name, spec.pids),
            triggers=[self.container.id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.container]),
        )
        self.container_name = spec.container_name
        self.register_outputs(
            {
                "containerName": self.container.name,
                "image": spec.image,
                "networks": [a.name for a in spec.networks],
                "egress": spec.egress,
            }
        )

    def _files(self, name: str, args: PlatformServiceArgs) -> docker.Volume:
        """One SecretFile per secret (and the CA bundle) in services/<name>/ on the secrets
        volume, then a docker.Volume bound to that directory (mounted read-only)."""
        spec = args.spec
        secrets_volume = args.secrets_volume
        if secrets_volume is None or spec.user is None:
            raise ValueError(f"service {name!r} has secret files but no secrets volume or user")
        directory = files_directory(name)
        contents: dict[str, pulumi.Input[str]] = {s: args.secret_values[s] for s in spec.secrets}
        if spec.ca_bundle and args.ca_bundle is not None:
            contents[CA_BUNDLE_FILE] = args.ca_bundle
        self.files = [
            SecretFile(
                f"{name}-file-{file_name}",
                SecretFileArgs(
                    host=args.host,
                    volume=secrets_volume,
                    path=f"{directory}/{file_name}",
                    content=content,
                    owner=spec.user,
                    mode="0400",
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for file_name, content in sorted(contents.items())
        ]
        labels = {**volume_labels(secrets_volume.spec), FILES_LABEL: name}
        return docker.Volume(
            f"{name}-files",
            name=files_volume_name(name),
            driver="local",
            driver_opts={
                "type": "none",
                "o": "bind",
                # Below the root-owned binds directory (see secret_file.subdirectory_volume).
                "device": f"{secrets_volume.spec.binds_dir}/{directory}",
            },
            labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in labels.items()],
            opts=pulumi.ResourceOptions(parent=self, provider=args.host.provider, depends_on=self.files),
        )
