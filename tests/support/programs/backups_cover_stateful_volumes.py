"""What rule backups-cover-stateful-volumes reports: a production stack whose database volume no
backup covers.

The rule is advisory; the program makes it mandatory through the pack configuration, as a
stack's configuration may."""

from __future__ import annotations

import pulumi_docker as docker

from . import violation
from .baseline import DIGEST, app, edge, internal_network, luks_volume, pids_limit

RULE = "backups-cover-stateful-volumes"
POSTGRES = "postgres:16.4" + DIGEST


def database_platform() -> None:
    """The baseline's app, LUKS volume and edge, and PostgreSQL keeping its data on a second LUKS
    volume."""
    _cmd, vol = luks_volume("appdata")
    _db_cmd, db_vol = luks_volume("dbdata", "/dev/vdc")
    net = internal_network("app-net")
    pids_limit(app(net, vol), "app")
    db = app(
        net,
        db_vol,
        name="db",
        image=POSTGRES,
        mounts=[
            docker.ContainerMountArgs(type="volume", source=db_vol.name, target="/var/lib/postgresql/data")
        ],
    )
    pids_limit(db, "db")
    pids_limit(edge(net), "edge")


@violation(RULE, resource="dbdata", exact=True, stack="prod", pack_config={RULE: "mandatory"})
def production_database_without_a_backup() -> None:
    """prod: PostgreSQL's volume, and no backup install nor `restic backup` of it."""
    database_platform()
