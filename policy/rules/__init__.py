"""The pack's rules, one module each, in the order of the issue."""

from __future__ import annotations

from analysis.rule import Rule

from rules import (
    certificates,
    commands_create_no_workloads,
    container_hardening,
    encrypted_volumes,
    healthchecks,
    image_pinned_by_digest,
    ingress_only_through_edge,
    luks_key_sources,
    luks_mount_points_intact,
    luks_mount_reachable,
    luks_on_volume_host,
    luks_parameters,
    memory_limits,
    network_isolation,
    no_host_paths,
    outbound_tls,
    read_only_root_filesystem,
    security_headers,
    shell_programs_readable,
    stateful_images_on_encrypted_volumes,
    tls_only_routes,
    traefik_providers_visible,
    websocket_routes_guarded,
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
    image_pinned_by_digest.RULE,
    healthchecks.RULE,
    memory_limits.RULE,
    read_only_root_filesystem.RULE,
    traefik_providers_visible.RULE,
    websocket_routes_guarded.RULE,
]
