"""The parts both platform modes compose the same way: the EncryptedVolumes (and the escrow of
their passphrases), the services' generated secrets and the Traefik edge.

Single host (components/platform.py) and Swarm mode (components/swarm.py) differ in where things
run (one DockerHost, or a node per volume and an edge node) and in how a secret reaches a service
(a SecretFile on the config-secrets volume, or a Swarm secret); what a volume, a secret or the edge
is, and how the edge is wired to the networks and volumes, is decided here once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.at_rest.backups import VolumeBackups, VolumeBackupsArgs
from components.at_rest.encrypted_volume import EncryptedVolume, EncryptedVolumeArgs
from components.host import DockerHost
from components.in_transit.edge import TraefikEdge, TraefikEdgeArgs
from components.isolation.network import EDGE, INGRESS, NetworkPlan, edge_targets
from components.isolation.service import SECRET_LENGTH, ServiceSpec
from components.settings import StackSecrets, StackSettings
from components.settings.backups import backup_volume_names


def encrypted_volumes(
    settings: StackSettings,
    *,
    host_of: Callable[[str], DockerHost],
    opts_of: Callable[[str], pulumi.ResourceOptions],
    project: str,
    stack: str,
) -> dict[str, EncryptedVolume]:
    """One EncryptedVolume per `volumes.<name>`, on the host that holds it."""
    return {
        name: EncryptedVolume(
            name,
            EncryptedVolumeArgs(
                host=host_of(name),
                volume=volume,
                encryption=settings.encryption,
                project=project,
                stack=stack,
            ),
            opts=opts_of(name),
        )
        for name, volume in settings.volumes.items()
    }


def volume_passphrases(volumes: Mapping[str, EncryptedVolume]) -> pulumi.Output[dict[str, dict[str, object]]]:
    """The escrow of the volumes' passphrases, one secret: per volume its current key version and
    that version's passphrase, the one the LUKS programs leave enrolled (and the one the newest
    header backup accepts). `make recover-passphrase` reads it, for a manual unlock or a header
    restore."""
    names = sorted(volumes)
    return pulumi.Output.secret(
        pulumi.Output.all(*(volumes[name].current_passphrase for name in names)).apply(
            lambda passphrases: {
                name: {"keyVersion": volumes[name].spec.key_version, "passphrase": passphrase}
                for name, passphrase in zip(names, passphrases, strict=True)
            }
        )
    )


def secret_names(specs: Mapping[str, ServiceSpec]) -> list[str]:
    """Every secret some service reads, once, in a stable order."""
    return sorted({secret for spec in specs.values() for secret in spec.secrets})


def service_secrets(
    specs: Mapping[str, ServiceSpec], *, parent: pulumi.Resource
) -> dict[str, random.RandomPassword]:
    """One generated password per secret name (`secret-<name>`), a secret output in the state.
    No special characters: the values go into connection strings and config files unquoted."""
    return {
        secret: random.RandomPassword(
            f"secret-{secret}",
            length=SECRET_LENGTH,
            special=False,
            opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["result"]),
        )
        for secret in secret_names(specs)
    }


def traefik_edge(
    settings: StackSettings,
    secrets: StackSecrets,
    *,
    host: DockerHost,
    network_plan: NetworkPlan,
    networks: Mapping[str, docker.Network],
    volumes: Mapping[str, EncryptedVolume],
    opts: pulumi.ResourceOptions,
) -> TraefikEdge | None:
    """The Traefik edge, where any route is declared: on the ingress network (its published ports)
    and on the link network of each service it forwards to, where that service answers to its own
    name. Its configuration and ACME state live on the config-secrets volume, its logs on the logs
    volume."""
    if not settings.edge.routes:
        return None
    attachments = network_plan.of(EDGE)
    links = [a for a in attachments if a.network != INGRESS]
    return TraefikEdge(
        EDGE,
        TraefikEdgeArgs(
            host=host,
            settings=settings.edge,
            environment=settings.environment,
            backend_hosts={service: service for service in edge_targets(settings)},
            ingress_network=networks[INGRESS].name,
            networks=[networks[a.network].name for a in links],
            secrets_volume=volumes[settings.runtime.secrets_volume],
            logs_volume=volumes[settings.runtime.logs_volume],
            tls_private_key=secrets.edge_tls_private_key,
        ),
        opts=opts,
    )


def volume_backups(
    settings: StackSettings,
    *,
    host: DockerHost,
    volumes: Mapping[str, EncryptedVolume],
    stack: str,
    opts: pulumi.ResourceOptions,
) -> VolumeBackups | None:
    """Encrypted restic backups of the chosen volumes (`backups.volumes`, by default every volume
    but the logs) and of the LUKS header backups, when `backups.enabled`; the repository password
    lives on the secrets volume."""
    if not settings.backups.enabled:
        return None
    return VolumeBackups(
        "backups",
        VolumeBackupsArgs(
            host=host,
            settings=settings.backups,
            volumes={name: volumes[name] for name in backup_volume_names(settings)},
            secrets_volume=volumes[settings.runtime.secrets_volume],
            header_backup_dir=settings.encryption.header_backup_dir,
            stack=stack,
        ),
        opts=opts,
    )
