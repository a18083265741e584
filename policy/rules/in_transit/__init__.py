"""Encryption in transit: TLS-only routes as Traefik really loads them, verified outbound TLS, headers, certificates."""
