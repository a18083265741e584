"""Swarm mode: the platform's services as Docker Swarm services on several DockerHosts.

What changes against the single-host platform (and why):
- Every node is a DockerHost with its own preflight Command (components/scripts/swarm/
  preflight.sh): engine version (CVE-2023-28840: engines before 20.10.24, and 23.0.0-23.0.3, left
  "encrypted" overlays unencrypted), active swarm membership, role, hostname, and the daemon's
  no-new-privileges default. Nothing is created on a node before its preflight passed.
- Networks are overlays with `encrypted` (IPsec ESP between nodes) and, for links, `internal`;
  the ingress network stays a local bridge on the edge's node, and the edge stays a plain
  container there publishing its ports itself (the Swarm routing mesh's `ingress` overlay is not
  encrypted and is never used). Overlays the edge joins are attachable; no other is.
- Each EncryptedVolume is created on the node that holds it (`swarm.volumeNodes`); a service with
  volumes is pinned to that node by a placement constraint, and its volume mounts carry the same
  bind options, so a task can only ever mount the encrypted data directory.
- Secrets (and the CA bundle) are Swarm secrets, mounted at /run/secrets/<name> (mode 0400, owned
  by the service's user); they are stored encrypted in the managers' Raft log.

Not expressible for Swarm services with pulumi-docker 5.2 / API 1.41, and handled instead:
- no-new-privileges: the daemon option `"no-new-privileges": true` (checked by the preflight).
- PID limit: none per service (Swarm's Pids limit needs API 1.41 fields the provider lacks); the
  memory limit still bounds a fork bomb. Documented in docs/swarm.md.
- IPC namespace: tasks always get a private one; privileged mode: Swarm has none.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import pulumi
import pulumi_docker as docker

from components.at_rest.encrypted_volume import EncryptedVolume
from components.composition import encrypted_volumes, service_secrets, traefik_edge
from components.host import DockerHost
from components.isolation.firewall import HostFirewall
from components.isolation.network import NetworkPlan, NetworkSpec, network_args, plan_networks
from components.isolation.service import PIDS_LABEL, ServiceSpec, service_specs
from components.settings import StackSecrets, StackSettings
from components.settings.services import CA_BUNDLE_FILE, SERVICE_FILES_DIR
from components.settings.swarm import MIN_ENCRYPTED_OVERLAY_ENGINE
from components.shell import SCRIPTS_ROOT, invocation, render_shell_program

SECRET_FILE_MODE = 0o400
CA_BUNDLE_SECRET = "ca-bundle"  # noqa: S105 - the name of a Swarm secret, not a secret


def preflight_program(settings: StackSettings, node: str) -> str:
    swarm = settings.swarm
    config = swarm.nodes[node]
    return render_shell_program(
        f"encrypted-platform swarm preflight for node {node!r}.",
        {
            "EP_NODE": node,
            "EP_DOCKER_HOST": f"unix://{config.host.docker_socket}",
            "EP_ENCRYPTED": "yes" if swarm.encrypt_overlays else "no",
            "EP_MIN_VERSION": ".".join(map(str, MIN_ENCRYPTED_OVERLAY_ENGINE)),
            "EP_DECLARED_VERSION": config.engine_version,
            "EP_ROLE": config.role,
            "EP_HOSTNAME": swarm.hostname(node),
            "EP_DAEMON_CONFIG": config.daemon_config,
        },
        [],
        (SCRIPTS_ROOT / "swarm" / "preflight.sh").read_text(),
    )


def placement_constraints(settings: StackSettings, spec: ServiceSpec) -> list[str]:
    """A stateful service runs on the node that holds its volumes (all on one node: checked)."""
    nodes = sorted({settings.swarm.node_of_volume(volume) for volume, _ in spec.volumes})
    return [f"node.hostname == {settings.swarm.hostname(node)}" for node in nodes]


def restart_condition(restart: str) -> str:
    return "on-failure" if restart == "on-failure" else "any"


@dataclass(frozen=True)
class SwarmPlatformArgs:
    settings: StackSettings
    secrets: StackSecrets
    project: str
    stack: str


class SwarmPlatform(pulumi.ComponentResource):
    """Children: one DockerHost, preflight and host firewall per node; the EncryptedVolumes on
    their nodes; overlay networks, Swarm secrets and services through the manager; the edge on
    the edge node."""

    def __init__(
        self, name: str, args: SwarmPlatformArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("encrypted-platform:swarm:SwarmPlatform", name, None, opts)
        settings = args.settings
        swarm = settings.swarm
        assert swarm.manager is not None
        child = pulumi.ResourceOptions(parent=self)

        self.nodes: dict[str, DockerHost] = {}
        self.preflights: dict[str, pulumi.Resource] = {}
        for node, config in swarm.nodes.items():
            host = DockerHost(
                f"node-{node}",
                config.host,
                private_key=args.secrets.ssh_private_key,
                project=args.project,
                stack=args.stack,
                opts=child,
            )
            self.nodes[node] = host
            program = invocation(
                preflight_program(settings, node), f"ep-swarm-preflight-{node}", become=host.become
            )
            guard: list[pulumi.Resource] = []
            if settings.firewall.enabled:
                guard.append(HostFirewall(f"firewall-{node}", host, settings.firewall, opts=child))
            self.preflights[node] = host.run(
                f"preflight-{node}",
                create=program,
                update=program,
                opts=pulumi.ResourceOptions(parent=self, depends_on=guard),
            )
        manager = self.nodes[swarm.manager]
        on_manager = pulumi.ResourceOptions(
            parent=self, provider=manager.provider, depends_on=list(self.preflights.values())
        )

        self.volumes: dict[str, EncryptedVolume] = encrypted_volumes(
            settings,
            host_of=lambda volume: self.nodes[swarm.node_of_volume(volume)],
            opts_of=lambda volume: pulumi.ResourceOptions(
                parent=self, depends_on=[self.preflights[swarm.node_of_volume(volume)]]
            ),
            project=args.project,
            stack=args.stack,
        )

        self.network_plan: NetworkPlan = plan_networks(settings, swarm=True)
        edge_host = self.nodes[swarm.edge]
        self.networks: dict[str, docker.Network] = {}
        for spec in self.network_plan.networks:
            self.networks[spec.key] = self._network(spec, manager, edge_host)

        specs = service_specs(settings, self.network_plan)
        self.secret_values = service_secrets(specs, parent=self)
        self.swarm_secrets: dict[str, docker.Secret] = {
            secret: docker.Secret(
                f"swarm-secret-{secret}",
                data=cast(pulumi.Output[str], pulumi.Output.secret(value.result.apply(_b64))),
                labels=[docker.SecretLabelArgs(label="encrypted-platform.secret", value=secret)],
                opts=on_manager,
            )
            for secret, value in self.secret_values.items()
        }
        if settings.runtime.ca_bundle:
            self.swarm_secrets[CA_BUNDLE_SECRET] = docker.Secret(
                "swarm-secret-ca-bundle",
                data=_b64(settings.runtime.ca_bundle),
                labels=[docker.SecretLabelArgs(label="encrypted-platform.secret", value=CA_BUNDLE_SECRET)],
                opts=on_manager,
            )

        self.services: dict[str, docker.Service] = {
            service: self._service(settings, spec, on_manager) for service, spec in specs.items()
        }
        # The edge after the services: its routes point at their names from its first start.
        self.edge = traefik_edge(
            settings,
            args.secrets,
            host=edge_host,
            network_plan=self.network_plan,
            networks=self.networks,
            volumes=self.volumes,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.services.values())),
        )
        self.register_outputs(
            {
                "nodes": sorted(self.nodes),
                "networks": {k: n.name for k, n in self.networks.items()},
                "services": {k: s.name for k, s in self.services.items()},
            }
        )

    def _network(self, spec: NetworkSpec, manager: DockerHost, edge_host: DockerHost) -> docker.Network:
        # The ingress bridge is local to the edge's node; overlays are created through the manager.
        host = edge_host if spec.driver == "bridge" else manager
        return docker.Network(
            spec.key,
            network_args(spec),
            opts=pulumi.ResourceOptions(
                parent=self, provider=host.provider, depends_on=list(self.preflights.values())
            ),
        )

    def _service(
        self, settings: StackSettings, spec: ServiceSpec, opts: pulumi.ResourceOptions
    ) -> docker.Service:
        mounts = []
        for volume, target in spec.volumes:
            luks = self.volumes[volume].spec
            mounts.append(
                docker.ServiceTaskSpecContainerSpecMountArgs(
                    type="volume",
                    source=f"encrypted-platform-{volume}",
                    target=target,
                    # Should the volume be missing on the node, Swarm creates it with these
                    # options: a bind of the LUKS data directory, never a plain local volume.
                    volume_options=docker.ServiceTaskSpecContainerSpecMountVolumeOptionsArgs(
                        driver_name="local",
                        driver_options={"type": "none", "o": "bind", "device": luks.data_dir},
                    ),
                )
            )
        for target, size in spec.tmpfs:
            mounts.append(
                docker.ServiceTaskSpecContainerSpecMountArgs(
                    type="tmpfs",
                    target=target,
                    tmpfs_options=docker.ServiceTaskSpecContainerSpecMountTmpfsOptionsArgs(
                        size_bytes=size, mode=0o1777
                    ),
                )
            )
        uid, gid = (spec.user or "0:0").split(":")
        secret_refs = [
            docker.ServiceTaskSpecContainerSpecSecretArgs(
                secret_id=self.swarm_secrets[name].id,
                secret_name=self.swarm_secrets[name].name,
                file_name=f"{SERVICE_FILES_DIR}/{CA_BUNDLE_FILE if name == CA_BUNDLE_SECRET else name}",
                file_uid=uid,
                file_gid=gid,
                file_mode=SECRET_FILE_MODE,
            )
            for name in [*spec.secrets, *([CA_BUNDLE_SECRET] if spec.ca_bundle else [])]
        ]
        health = spec.healthcheck
        depends = [self.volumes[v].volume for v, _ in spec.volumes]
        # Swarm services have no PID limit (see the module docstring): claim none.
        labels = [(k, v) for k, v in spec.labels if k != PIDS_LABEL]
        return docker.Service(
            spec.name,
            name=spec.container_name,
            labels=[docker.ServiceLabelArgs(label=k, value=v) for k, v in labels],
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=spec.image,
                    args=list(spec.command) if spec.command is not None else None,
                    env=dict(spec.env),
                    labels=[
                        docker.ServiceTaskSpecContainerSpecLabelArgs(label=k, value=v) for k, v in spec.labels
                    ],
                    user=spec.user,
                    read_only=True,
                    cap_drops=list(spec.drop_capabilities),
                    cap_adds=list(spec.capabilities) or None,
                    mounts=mounts,
                    secrets=secret_refs or None,
                    healthcheck=(
                        docker.ServiceTaskSpecContainerSpecHealthcheckArgs(**health.provider_args())
                        if health
                        else None
                    ),
                ),
                resources=docker.ServiceTaskSpecResourcesArgs(
                    limits=docker.ServiceTaskSpecResourcesLimitsArgs(
                        memory_bytes=spec.memory_bytes,
                        nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
                    )
                ),
                restart_policy=docker.ServiceTaskSpecRestartPolicyArgs(
                    condition=restart_condition(spec.restart)
                ),
                placement=docker.ServiceTaskSpecPlacementArgs(
                    constraints=placement_constraints(settings, spec) or None
                ),
                networks_advanceds=[
                    docker.ServiceTaskSpecNetworksAdvancedArgs(
                        id=self.networks[a.network].id, aliases=list(a.aliases) or None
                    )
                    for a in spec.networks
                ],
                log_driver=docker.ServiceTaskSpecLogDriverArgs(
                    name=spec.log_driver, options=dict(spec.log_opts) or None
                ),
            ),
            mode=docker.ServiceModeArgs(replicated=docker.ServiceModeReplicatedArgs(replicas=spec.replicas)),
            # No published port, no routing mesh: only the edge publishes, on its own node. DNS
            # round robin: a service name answers with its tasks' addresses, no IPVS virtual IP
            # (one kernel module fewer on every node).
            endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr"),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=depends)),
        )


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def swarm_summary(settings: StackSettings) -> Mapping[str, object]:
    """Plain facts about the swarm topology (for exports and reviewers)."""
    return {
        "manager": settings.swarm.manager,
        "edgeNode": settings.swarm.edge,
        "encryptedOverlays": settings.swarm.encrypt_overlays,
        "nodes": {n: settings.swarm.hostname(n) for n in settings.swarm.nodes},
    }
