"""pytest fixtures (tests/vm/conftest.py imports them; other tiers' conftests can do the same)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

from .assets import build_assets
from .host import Assets
from .machine import VM

DEFAULT_DATA_DISKS: Mapping[str, str] = {"data1": "256M", "data2": "256M"}


class VMFactory:
    """Creates VMs for a test (or module) and kills every one of them at teardown."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.vms: list[VM] = []

    def __call__(
        self,
        flavour: str = "luks",
        *,
        name: str | None = None,
        data_disks: Mapping[str, int | str] | None = None,
        forward_ports: Iterable[int] = (),
        memory_mb: int | None = None,
        boot: bool = True,
        boot_timeout: float | None = None,
        guest_forwards: Iterable[str] = (),
        extra_qemu_args: Iterable[str] = (),
    ) -> VM:
        name = name or f"{flavour}{len(self.vms)}"
        vm = VM(
            build_assets(flavour),
            self.workdir / name,
            name=name,
            data_disks=data_disks,
            forward_ports=forward_ports,
            memory_mb=memory_mb,
            guest_forwards=guest_forwards,
            extra_qemu_args=extra_qemu_args,
        )
        self.vms.append(vm)
        if boot:
            vm.boot(boot_timeout)
        return vm

    def close_all(self) -> None:
        for vm in self.vms:
            vm.close()


@pytest.fixture(scope="session")
def vmlab_luks_assets() -> Assets:
    return build_assets("luks")


@pytest.fixture(scope="session")
def vmlab_docker_assets() -> Assets:
    return build_assets("docker")


@pytest.fixture
def vm_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VMFactory]:
    factory = VMFactory(tmp_path_factory.mktemp("vmlab"))
    yield factory
    factory.close_all()


@pytest.fixture(scope="module")
def module_vm_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VMFactory]:
    factory = VMFactory(tmp_path_factory.mktemp("vmlab-module"))
    yield factory
    factory.close_all()


@pytest.fixture
def luks_vm(vm_factory: VMFactory) -> VM:
    """A freshly booted luks-flavour VM with two blank 256 MiB data disks (data1, data2)."""
    return vm_factory("luks", data_disks=DEFAULT_DATA_DISKS)


@pytest.fixture(scope="module")
def module_luks_vm(module_vm_factory: VMFactory) -> VM:
    """One luks-flavour VM (data1, data2) shared by a test module."""
    return module_vm_factory("luks", data_disks=DEFAULT_DATA_DISKS)


@pytest.fixture
def docker_vm(vm_factory: VMFactory) -> VM:
    """A freshly booted docker-flavour VM with one blank 512 MiB data disk (data1)."""
    return vm_factory("docker", data_disks={"data1": "512M"})


@pytest.fixture(scope="module")
def module_docker_vm(module_vm_factory: VMFactory) -> VM:
    """One docker-flavour VM (data1) shared by a test module."""
    return module_vm_factory("docker", data_disks={"data1": "512M"})
