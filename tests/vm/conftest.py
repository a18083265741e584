"""Fixtures of the vm tier: qemu VMs with real dm-crypt (luks flavour) or a Docker host reached
over SSH (docker flavour). They live in tests/support/vmlab/fixtures.py so any tier's conftest
can import the same ones:

    from tests.support.vmlab.fixtures import module_docker_vm, vm_factory  # noqa: F401
"""

from tests.support.vmlab.fixtures import (  # noqa: F401 - pytest finds fixtures by name
    docker_vm,
    luks_vm,
    module_docker_vm,
    module_luks_vm,
    module_vm_factory,
    vm_factory,
    vmlab_docker_assets,
    vmlab_luks_assets,
)
