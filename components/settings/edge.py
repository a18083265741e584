"""Encryption in transit at the edge (Traefik): config key `edge`.

Placeholder: filled in by the edge work (issue 3)."""

from __future__ import annotations

from .base import Model


class EdgeSettings(Model):
    """Config key `edge`."""
