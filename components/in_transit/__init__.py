"""Encryption in transit: the Traefik edge (component, pure configuration renderer) and its
certificates."""
