"""Isolation: the network plan and networks, the host firewall, and the hardened service
containers attached only to their planned networks."""
