"""End-to-end tier: the platform applied to a VM that acts as a remote Docker host."""

from tests.support.vmlab.fixtures import module_vm_factory, vmlab_docker_assets  # noqa: F401 - pytest finds fixtures by name
