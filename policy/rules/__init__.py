"""The pack's rules, one module each, in the order of the issue."""

from __future__ import annotations

from analysis.rule import Rule

from rules import (
    certificates,
    container_hardening,
    encrypted_volumes,
    healthchecks,
    image_pinned_by_digest,
    ingress_only_through_edge,
    luks_parameters,
    memory_limits,
    network_isolation,
    no_host_paths,
    outbound_tls,
    read_only_root_filesystem,
    security_headers,
    tls_only_routes,
)

RULES: list[Rule] = [
    encrypted_volumes.RULE,
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
]
