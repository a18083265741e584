"""Advisory hardening: reported, never blocking unless the pack config raises them."""
