"""The platform's services and their networks: config key `services`.

Placeholder: filled in by the isolation work (issue 4)."""

from __future__ import annotations

from .base import Model


class ServiceSettings(Model):
    """One entry of config key `services`."""
