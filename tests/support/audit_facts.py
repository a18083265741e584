"""Documents of the audit's facts as a healthy deployment gives them (the shapes the facts program
and the edge scan print, the values the checks expect), for the audit's unit tests to break one
fact at a time."""

from __future__ import annotations

import copy
from typing import Any

from components.in_transit.traefik_config import INTERMEDIATE_CIPHER_SUITES
from scripts.audit.at_rest import BINDING_RECORD_TYPE
from scripts.audit.expected import binding_hash
from scripts.audit.model import Expected, ExpectedContainer, ExpectedEdge, ExpectedRoute, ExpectedVolume

NOW = 1_800_000_000
HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Content-Type-Options": "nosniff",
}


def volume(name: str, unlock: str = "crypttab", key_version: int = 1) -> ExpectedVolume:
    return ExpectedVolume(
        name=name,
        docker_volume=f"encrypted-platform-{name}",
        source=f"/var/lib/encrypted-platform/volumes/{name}.img",
        luks_uuid=f"00000000-0000-5000-8000-00000000000{len(name) % 10}",
        mapper=f"ep-{name}",
        key_version=key_version,
        mount_point=f"/srv/encrypted/{name}",
        data_dir=f"/srv/encrypted/{name}/data",
        unlock=unlock,
        binding=binding_hash("{}", key_version) if unlock in ("tang", "tpm2") else None,
    )


def expected(*volumes: ExpectedVolume, pbkdf_memory_kib: int | None = 65536) -> Expected:
    return Expected(
        stack="audit-test",
        cipher="aes-xts-plain64",
        key_size_bits=512,
        pbkdf="argon2id",
        pbkdf_memory_kib=pbkdf_memory_kib,
        pbkdf_iterations=4 if pbkdf_memory_kib else None,
        pbkdf_parallel=None,
        keys_dir="/etc/encrypted-platform/keys",
        header_backup_dir="/var/backups/encrypted-platform",
        volumes=volumes or (volume("app-db"),),
        containers=(
            ExpectedContainer(
                "encrypted-platform-edge", ("encrypted-platform-ingress", "ep-link--edge--webapp"), (80, 443)
            ),
            ExpectedContainer("encrypted-platform-webapp", ("ep-link--edge--webapp",), ()),
        ),
        networks=("encrypted-platform-ingress", "ep-link--edge--webapp"),
        internal_networks=("ep-link--edge--webapp",),
        edge=ExpectedEdge(
            routes=(
                ExpectedRoute("webapp", "app.example.test", "/", False),
                ExpectedRoute("events", "app.example.test", "/ws", True),
            ),
            http_port=80,
            https_port=443,
            min_tls_version="1.2",
            tls12_cipher_suites=INTERMEDIATE_CIPHER_SUITES,
            headers=dict(HEADERS),
            headers_absent=("Server", "X-Powered-By"),
            certificate_mode="custom",
            staples_ocsp=True,
            websocket_origins=("https://app.example.test",),
        ),
    )


def _keyslot(kdf: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "luks2",
        "key_size": 64,
        "area": {"encryption": "aes-xts-plain64", "key_size": 64},
        "kdf": kdf,
    }


def luks_metadata(want: Expected, v: ExpectedVolume) -> dict[str, Any]:
    kdf = {
        "type": want.pbkdf,
        "time": want.pbkdf_iterations or 6,
        "memory": want.pbkdf_memory_kib or 1048576,
        "cpus": 4,
    }
    metadata: dict[str, Any] = {
        "keyslots": {"0": _keyslot(kdf)},
        "tokens": {},
        "segments": {"0": {"type": "crypt", "encryption": want.cipher, "sector_size": 4096}},
        "digests": {"0": {"type": "pbkdf2", "keyslots": ["0"], "digest": "abc="}},
    }
    if v.binding is not None:
        metadata["keyslots"]["1"] = _keyslot({"type": "pbkdf2", "hash": "sha256", "iterations": 1000})
        metadata["tokens"]["0"] = {"type": "clevis", "keyslots": ["1"], "jwe": {}}
        metadata["tokens"]["1"] = {
            "type": BINDING_RECORD_TYPE,
            "keyslots": [],
            "generation": "1",
            "binding": v.binding,
            "current": "1",
            "owned": "1",
        }
        metadata["digests"]["0"]["keyslots"] = ["0", "1"]
    return metadata


def volume_facts(want: Expected, v: ExpectedVolume) -> dict[str, Any]:
    metadata = luks_metadata(want, v)
    keyfile = f"{want.keys_dir}/{v.name}.key"
    crypttab = (
        f"{v.mapper} {v.source} {keyfile} luks,nofail"
        if v.unlock == "crypttab"
        else (f"{v.mapper} {v.source} none luks,noauto,nofail" if v.unlock in ("tang", "tpm2") else "")
    )
    return {
        "name": v.name,
        "source": v.source,
        "sourceStat": "600 root 1073741824 1700000000 regular file",
        "sourceRealpath": v.source,
        "isLuks": True,
        "luksMetadata": metadata,
        "luksDump": f"LUKS header information\nVersion:       \t2\nEpoch:         \t3\nUUID:          \t{v.luks_uuid}\n",
        "mapperStatus": (
            f"{v.mapper_path} is active and is in use.\n  type:    LUKS2\n  cipher:  aes-xts-plain64\n"
            f"  keysize: 512 bits\n  key location: keyring\n  device:  /dev/loop0\n  loop:    {v.source}\n"
            "  mode:    read/write\n"
        ),
        "mount": {
            "filesystems": [
                {
                    "source": v.mapper_path,
                    "target": v.mount_point,
                    "fstype": "ext4",
                    "options": "rw,nosuid,nodev,relatime",
                }
            ]
        },
        "dockerVolume": [
            {
                "Name": v.docker_volume,
                "Mountpoint": f"/var/lib/docker/volumes/{v.docker_volume}/_data",
                "Options": {"type": "none", "o": "bind", "device": v.data_dir},
            }
        ],
        "headerBackup": {
            "latest": f"{want.header_backup_dir}/{v.name}/{v.name}-20260101T000000Z.luks-header",
            "stat": f"400 root 16777216 {NOW - 3 * 86400} regular file",
            "luksMetadata": copy.deepcopy(metadata),
        },
        "keyfile": {
            "path": keyfile,
            "stat": f"400 root 64 {NOW} regular file" if v.unlock == "crypttab" else None,
        },
        "crypttab": crypttab,
    }


def container(name: str, networks: tuple[str, ...], ports: tuple[int, ...] = ()) -> dict[str, Any]:
    bindings = {f"{p}/tcp": [{"HostIp": "", "HostPort": str(p)}] for p in ports}
    return {
        "Name": f"/{name}",
        "State": {"Status": "running"},
        "HostConfig": {"NetworkMode": networks[0] if networks else "none", "PortBindings": bindings},
        "NetworkSettings": {"Networks": {n: {} for n in networks}, "Ports": bindings},
        "Config": {"Labels": {}},
    }


def host_facts(want: Expected) -> dict[str, Any]:
    """What the facts program prints on a host where the stack is deployed as declared."""
    return {
        "schema": 1,
        "host": "audit-test-host",
        "now": str(NOW),
        "volumes": [volume_facts(want, v) for v in want.volumes],
        "keysDir": {
            "path": want.keys_dir,
            "entries": "\n".join(f"{v.name}.key" for v in want.volumes if v.unlock == "crypttab"),
        },
        "swaps": [],
        "tmpfs": {"filesystems": [{"target": "/run", "options": "rw,nosuid,nodev"}]},
        "dockerRoot": {
            "path": "/var/lib/docker",
            "source": "/dev/mapper/root_crypt",
            "deviceTypes": "crypt\npart\ndisk",
        },
        "containers": [container(c.name, c.networks, c.published_ports) for c in want.containers],
        "networks": [
            {"Name": n, "Internal": n in want.internal_networks}
            for n in ("bridge", "host", "none", *want.networks)
        ],
        "dockerVolumes": [{"Name": v.docker_volume, "Labels": {}} for v in want.volumes],
        "reachability": [
            probes(c.name, outside="refused" if c.published_ports else "timeout") for c in want.containers
        ],
    }


def probes(name: str, *, host: str = "refused", outside: str = "timeout") -> dict[str, Any]:
    """The facts program's probes from inside one container: its gateway's and the host address's
    sshd and Docker API ports (`host` each), the host's default gateway (`outside`)."""
    return {
        "container": name,
        "probes": [
            *(
                {"target": "host", "address": address, "port": port, "result": host}
                for address in ("172.18.0.1", "10.0.2.15")
                for port in (22, 2375, 2376)
            ),
            {"target": "outside", "address": "10.0.2.2", "port": 53, "result": outside},
        ],
    }


def edge_facts(want: Expected, days_left: float = 80.0) -> dict[str, Any]:
    """What the edge scan sees at an edge configured as the stack says."""
    assert want.edge is not None
    hosts = want.edge.hosts
    return {
        "reachable": True,
        "address": "127.0.0.1",
        "httpsPort": want.edge.https_port,
        "httpPort": want.edge.http_port,
        "protocols": {"1.0": False, "1.1": False, "1.2": True, "1.3": True},
        "tls12Suites": sorted(INTERMEDIATE_CIPHER_SUITES[:4]),
        "certificates": {
            h: {
                "verified": True,
                "error": None,
                "subject": f"CN={h}",
                "issuer": "CN=Test Intermediate",
                "sans": [h],
                "notAfter": "2027-01-01T00:00:00Z",
                "daysLeft": days_left,
                "ocspUrls": ["http://ocsp.example.test"],
                "ocspStapled": True,
            }
            for h in hosts
        },
        "redirects": {h: {"status": 301, "location": f"https://{h}/", "error": None} for h in hosts},
        "upgrades": {
            r.name: {
                "foreignOrigin": {
                    "origin": "https://audit-foreign-origin.invalid",
                    "status": 404,
                    "error": None,
                },
                "noSession": {"origin": "https://app.example.test", "status": 401, "error": None},
            }
            for r in want.edge.routes
            if r.websocket
        },
        "responses": {
            r.name: {
                "status": 200,
                "headers": {k.lower(): [v] for k, v in want.edge.headers.items()},
                "error": None,
            }
            for r in want.edge.routes
            if not r.websocket
        },
    }
