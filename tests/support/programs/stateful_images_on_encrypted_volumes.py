"""Rule stateful-images-on-encrypted-volumes: databases whose data is not on an encrypted volume."""

from __future__ import annotations

import pulumi_docker as docker

from . import violation
from .baseline import DIGEST, hardened, internal_network, luks_volume

RULE = "stateful-images-on-encrypted-volumes"


def _db(name: str, **overrides: object) -> None:
    net = internal_network("app-net")
    args = hardened(
        name=name,
        image="docker.io/library/postgres:16.4-alpine" + DIGEST,
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
    )
    args.update(overrides)
    docker.Container(name, **args)


@violation(RULE, resource="db", exact=True)
def database_without_volume_and_writable_root() -> None:
    """PostgreSQL with no volume and a writable root: the data sits in the container layer."""
    _db("db", read_only=False)


@violation(RULE, resource="db", exact=True)
def volume_on_the_wrong_path() -> None:
    """An encrypted volume, but at /backup: the data directory is elsewhere."""
    _cmd, vol = luks_volume("appdata")
    _db("db", mounts=[docker.ContainerMountArgs(type="volume", source=vol.name, target="/backup")])


@violation(RULE, resource="db", exact=True)
def pgdata_moved_off_the_volume() -> None:
    """PGDATA points outside the encrypted volume."""
    _cmd, vol = luks_volume("appdata")
    _db(
        "db",
        envs=["PGDATA=/tmp/pgdata"],
        mounts=[docker.ContainerMountArgs(type="volume", source=vol.name, target="/var/lib/postgresql/data")],
    )


@violation(RULE, resource="vectors", exact=True)
def vector_store_from_a_remote_image() -> None:
    """Qdrant whose image id is a RemoteImage output (unknown at preview), with no volume."""
    net = internal_network("app-net")
    image = docker.RemoteImage(
        "qdrant-image", name="docker.io/qdrant/qdrant:v1.11.3" + DIGEST, keep_locally=True
    )
    docker.Container(
        "vectors",
        **hardened(
            name="vectors",
            image=image.image_id,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
        ),
    )
