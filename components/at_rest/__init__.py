"""Encryption at rest: LUKS2 volumes (the Command and its pure program renderer) and the
files installed onto them."""
