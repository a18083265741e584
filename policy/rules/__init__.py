"""The pack's rules, one module each: at rest, in transit, isolation and hardening, then advisory."""

from __future__ import annotations

from analysis.rule import Rule

from rules.advisory import (
    capabilities_dropped,
    cgroup_parent_default,
    cpu_limits,
    healthchecks,
    image_pinned_by_digest,
    memory_limits,
    pid_limits,
    read_only_root_filesystem,
)
from rules.at_rest import (
    backup_password_secret,
    backups_cover_stateful_volumes,
    encrypted_volumes,
    luks_key_sources,
    luks_mount_points_intact,
    luks_mount_reachable,
    luks_on_volume_host,
    luks_parameters,
    stateful_images_on_encrypted_volumes,
)
from rules.in_transit import (
    backup_repository_tls,
    certificates,
    outbound_tls,
    security_headers,
    tls_only_routes,
    traefik_providers_visible,
    websocket_routes_guarded,
)
from rules.isolation import (
    commands_create_no_workloads,
    container_hardening,
    ingress_only_through_edge,
    mount_propagation_private,
    network_isolation,
    no_host_paths,
    shell_programs_readable,
)

RULES: list[Rule] = [
    encrypted_volumes.RULE,
    luks_mount_points_intact.RULE,
    luks_mount_reachable.RULE,
    luks_on_volume_host.RULE,
    luks_key_sources.RULE,
    stateful_images_on_encrypted_volumes.RULE,
    commands_create_no_workloads.RULE,
    shell_programs_readable.RULE,
    no_host_paths.RULE,
    tls_only_routes.RULE,
    ingress_only_through_edge.RULE,
    network_isolation.RULE,
    outbound_tls.RULE,
    security_headers.RULE,
    certificates.RULE,
    luks_parameters.RULE,
    container_hardening.RULE,
    mount_propagation_private.RULE,
    image_pinned_by_digest.RULE,
    healthchecks.RULE,
    memory_limits.RULE,
    read_only_root_filesystem.RULE,
    capabilities_dropped.RULE,
    pid_limits.RULE,
    cpu_limits.RULE,
    cgroup_parent_default.RULE,
    traefik_providers_visible.RULE,
    websocket_routes_guarded.RULE,
    backup_repository_tls.RULE,
    backup_password_secret.RULE,
    backups_cover_stateful_volumes.RULE,
]
