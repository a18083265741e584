"""Stand-in programs that run inside the test images (see tests/support/images.py)."""
