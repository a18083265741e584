"""Isolation: ingress only through the edge, internal networks, no host paths, hardened containers, readable Commands."""
