"""Encryption at rest: every volume on a LUKS2 device this stack opens, with sound parameters and keys."""
