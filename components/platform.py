"""Platform: the whole deployment for one stack, composed from the components.

Single host (default): one DockerHost, its EncryptedVolumes, the networks of `plan_networks`
(ingress, egress, one internal network per caller-callee link) and one PlatformService per
enabled service. Swarm mode (`swarm.enabled`): see components/swarm.py.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping

import pulumi
import pulumi_docker as docker

from components.at_rest.backups import VolumeBackups
from components.at_rest.encrypted_volume import EncryptedVolume
from components.composition import encrypted_volumes, service_secrets, traefik_edge, volume_backups
from components.host import DockerHost
from components.isolation.firewall import HostFirewall
from components.isolation.network import EDGE, NetworkPlan, make_network, plan_networks
from components.isolation.service import PlatformService, PlatformServiceArgs, service_specs
from components.outputs import stack_outputs
from components.settings import StackSecrets, StackSettings
from components.settings.checks import ownership_warnings

# CPython's default: a full collection after every 10 collections of the middle generation.
FULL_COLLECTION_AFTER = 1000


def defer_full_collections() -> None:
    """Full collections no more often than every FULL_COLLECTION_AFTER middle-generation
    collections (some 7M net allocations of tracked objects), then paced by CPython's own rule
    (the old generation grew by a quarter). While a program declares its resources nothing
    resolves: every resource's Outputs wait for the event loop, which runs after the program body,
    so the heap holds some 500 live objects per resource and every full collection scans all of
    them. At the default pace that rescanning grows faster than the program (2 full collections
    over 0.4M objects at 393 resources, 13 over 11M at 3,453) and takes a third (393) to nearly
    half (3,453) of the evaluation's CPU time. Young collections are unchanged: short-lived
    reference cycles are still freed at once."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)


class Platform(pulumi.ComponentResource):
    """Single host: DockerHost, host firewall, EncryptedVolumes, networks, PlatformServices, edge.
    Swarm mode: a SwarmPlatform child holds the same parts for several nodes. Backups (when
    `backups.enabled`; single host only): a VolumeBackups child."""

    volumes: dict[str, EncryptedVolume]
    network_plan: NetworkPlan
    networks: dict[str, docker.Network]
    services: Mapping[str, pulumi.Resource]
    backups: VolumeBackups | None = None

    def __init__(
        self,
        name: str,
        settings: StackSettings,
        secrets: StackSecrets,
        *,
        project: str,
        stack: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("encrypted-platform:index:Platform", name, None, opts)
        self.settings = settings
        child = pulumi.ResourceOptions(parent=self)
        for warning in ownership_warnings(settings.services, settings.volumes):
            pulumi.log.warn(warning, resource=self)

        if settings.swarm.enabled:
            from components.swarm import SwarmPlatform, SwarmPlatformArgs

            self.swarm = SwarmPlatform(
                "swarm",
                SwarmPlatformArgs(settings=settings, secrets=secrets, project=project, stack=stack),
                opts=child,
            )
            self.volumes = self.swarm.volumes
            self.network_plan = self.swarm.network_plan
            self.networks = self.swarm.networks
            self.services = self.swarm.services
            self.edge = self.swarm.edge
            self.outputs = stack_outputs(settings, self.network_plan, project=project, stack=stack)
            self.register_outputs(self.outputs)
            return

        self.host = DockerHost(
            "host",
            settings.host,
            private_key=secrets.ssh_private_key,
            project=project,
            stack=stack,
            opts=child,
        )
        self.volumes = encrypted_volumes(
            settings, host_of=lambda _: self.host, opts_of=lambda _: child, project=project, stack=stack
        )

        # The host firewall goes first: no container network exists before containers are kept
        # away from the host's own services.
        self.firewall = (
            HostFirewall("firewall", self.host, settings.firewall, opts=child)
            if settings.firewall.enabled
            else None
        )
        guard = [self.firewall] if self.firewall is not None else []
        self.network_plan = plan_networks(settings)
        self.network_components = {
            spec.key: make_network(spec, self.host.provider, opts=child, depends_on=guard)
            for spec in self.network_plan.networks
        }
        self.networks = {key: component.network for key, component in self.network_components.items()}

        specs = service_specs(settings, self.network_plan)
        self.secrets = service_secrets(specs, parent=self)
        secrets_volume = self.volumes.get(settings.runtime.secrets_volume)
        self.platform_services: dict[str, PlatformService] = {
            service: PlatformService(
                service,
                PlatformServiceArgs(
                    spec=spec,
                    host=self.host,
                    networks=self.networks,
                    volumes=self.volumes,
                    secrets_volume=secrets_volume,
                    secret_values={s: self.secrets[s].result for s in spec.secrets},
                    ca_bundle=settings.runtime.ca_bundle,
                ),
                opts=child,
            )
            for service, spec in specs.items()
        }
        self.services = self.platform_services
        self.edge = traefik_edge(
            settings,
            secrets,
            host=self.host,
            network_plan=self.network_plan,
            networks=self.networks,
            volumes=self.volumes,
            opts=child,
        )
        self.backups = volume_backups(settings, host=self.host, volumes=self.volumes, stack=stack, opts=child)
        # Plain facts, known at preview (components/outputs.py); __main__.py exports them.
        self.outputs = stack_outputs(settings, self.network_plan, project=project, stack=stack)
        self.register_outputs(self.outputs)

    def images(self) -> dict[str, docker.RemoteImage]:
        """The RemoteImage of each service (and the edge) that pulls one on its host."""
        workloads: dict[str, object] = {**self.services, **({EDGE: self.edge} if self.edge else {})}
        return {
            name: image
            for name, workload in sorted(workloads.items())
            if isinstance(image := getattr(workload, "image", None), docker.RemoteImage)
        }
