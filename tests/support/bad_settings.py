"""The table of bad stack settings: each row is a config (keys without the namespace, as a stack
file holds them), the key the error must name exactly as `pulumi config set --path` spells it,
and a fragment of the explanation. tests/unit/test_bad_settings.py runs every row through
`parse_settings` and through the whole program under the SDK's mock runtime (which must stop
before registering anything).

`finding` says which rule the row holds the settings to:
  path        host paths: absolute, normalised, safe characters, not a system directory
  grammar     every grammar matches the whole value (no trailing newline)
  unknown     an unknown key is named, with "did you mean" when one is close
  spelling    list indexes and non-identifier names in the `--path` spelling
  device      a device is a stable name, or the settings say why not
  value       value ranges: modes, users, sizes, numbers that are not switches
  cross       cross-key and prod checks, while parsing
  basic       the checks that held before (kept so they keep holding)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GOOD_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ6b0ETJTxVgcNvE2Sw4V1bXbvo8VkD2q0m9bVvT0m3a"
DIGEST = "sha256:" + "0" * 64
BY_ID = "/dev/disk/by-id/virtio-app-db"
SSH_HOST = {"mode": "ssh", "address": "192.0.2.7", "hostKey": GOOD_HOST_KEY}


@dataclass(frozen=True)
class BadSettings:
    config: dict[str, Any]
    key: str
    fragment: str
    finding: str
    why: str = field(default="", compare=False)


def _key(path: str) -> str:
    return f"encrypted-platform:{path}"


GOOD_THUMBPRINT = "rMNPpsLf3JJBWwcMWoRPrwyz-yQT1M9UxEz86vkr6lA"


def encryption(**values: Any) -> dict[str, Any]:
    return {"encryption": values}


def volume(**values: Any) -> dict[str, Any]:
    return {"volumes": {"app-db": values}}


def device(path: str, **values: Any) -> dict[str, Any]:
    return volume(backing="device", device=path, **values)


def service(**values: Any) -> dict[str, Any]:
    """A new service `reports` (no built-in definition merged in) with `values` over a valid base."""
    base = {"image": "registry.example.org/reports:1.4.2", "port": 8000, "user": "1000:1000"}
    return {"services": {"reports": {**base, **values}}}


def edge(**values: Any) -> dict[str, Any]:
    """An edge routing app.example.org to the service `reports`, with `values` over it."""
    routed = {"routes": {"app": {"host": "app.example.org", "service": "reports", "port": 8000}}}
    routed.update(values)
    return {**service(), "edge": routed}


def prod_edge(**values: Any) -> dict[str, Any]:
    """A prod stack whose only problem is in `values` (the edge is otherwise prod-ready)."""
    ready = {
        "image": {"digest": DIGEST},
        "certificates": {"mode": "acme", "acme": {"email": "ops@example.org"}},
    }
    config = edge(**{**ready, **values})
    config["services"]["reports"]["image"] += "@" + DIGEST
    return {"environment": "prod", **config}


SFTP_REPOSITORY = {"kind": "sftp", "url": "sftp:backup@backup.example.org:/srv/restic/ep"}


def backups(**values: Any) -> dict[str, Any]:
    """Enabled backups to an SFTP repository, with `values` over them."""
    return {"backups": {"enabled": True, "repository": SFTP_REPOSITORY, **values}}


def local_repository(**values: Any) -> dict[str, Any]:
    return backups(repository={"kind": "local", "path": "/mnt/backup-disk/ep", "otherDevice": True, **values})


def swarm_node(**values: Any) -> dict[str, Any]:
    node = {"role": "manager", "engineVersion": "24.0.7", **values}
    return {"swarm": {"enabled": True, "manager": "node-a", "nodes": {"node-a": node}}}


ROWS: list[BadSettings] = [
    # --- host paths -------------------------------------------------------------------------
    BadSettings(
        encryption(root="/srv/x'$(id -u >PWNED)'"), _key("encryption.root"), "may only contain", "path"
    ),
    BadSettings(encryption(root="/srv/enc rypted"), _key("encryption.root"), "may only contain", "path"),
    BadSettings(
        encryption(root="/srv/encrypted\tsuid,dev"), _key("encryption.root"), "may only contain", "path"
    ),
    BadSettings(
        encryption(stateDir="/var/lib/ep`id`"), _key("encryption.stateDir"), "may only contain", "path"
    ),
    BadSettings(
        encryption(headerBackupDir='/var/backups/"ep"'),
        _key("encryption.headerBackupDir"),
        "may only contain",
        "path",
    ),
    BadSettings(encryption(keysDir="/etc/ep\\keys"), _key("encryption.keysDir"), "may only contain", "path"),
    BadSettings(encryption(keysDir="/etc"), _key("encryption.keysDir"), "system directory /etc", "path"),
    BadSettings(encryption(keysDir="/tmp"), _key("encryption.keysDir"), "system directory /tmp", "path"),
    BadSettings(
        encryption(headerBackupDir="/var"),
        _key("encryption.headerBackupDir"),
        "system directory /var",
        "path",
    ),
    BadSettings(
        encryption(stateDir="/usr/lib"), _key("encryption.stateDir"), "system directory /usr/lib", "path"
    ),
    BadSettings(encryption(root="/"), _key("encryption.root"), "system directory /", "path"),
    BadSettings(
        encryption(root="/var/lib/docker/volumes/data"),
        _key("encryption.root"),
        "inside /var/lib/docker",
        "path",
    ),
    BadSettings(encryption(keysDir="/run/ep-keys"), _key("encryption.keysDir"), "inside /run", "path"),
    BadSettings(encryption(root="/srv//encrypted"), _key("encryption.root"), "normalised", "path"),
    BadSettings(encryption(root="/srv/encrypted/"), _key("encryption.root"), "normalised", "path"),
    BadSettings(encryption(root="/srv/./encrypted"), _key("encryption.root"), "normalised", "path"),
    BadSettings(encryption(stateDir="/srv/enc/../etc"), _key("encryption.stateDir"), "normalised", "path"),
    BadSettings(
        device("/dev/disk/by-id/a$(reboot)"), _key("volumes.app-db.device"), "may only contain", "path"
    ),
    BadSettings(
        {"host": {"dockerSocket": "/var/run/docker.sock; rm -rf /"}},
        _key("host.dockerSocket"),
        "may only contain",
        "path",
    ),
    BadSettings(
        {"host": {"dockerSocket": "docker.sock"}}, _key("host.dockerSocket"), "absolute path", "path"
    ),
    BadSettings(
        swarm_node(daemonConfig="/etc/docker/daemon.json'"),
        _key("swarm.nodes.node-a.daemonConfig"),
        "may only contain",
        "path",
    ),
    BadSettings(
        {
            **service(volumes={"documents": "/srv/re ports"}),
            "volumes": {"documents": {"dataOwner": "1000:1000"}},
        },
        _key("services.reports.volumes.documents"),
        "may only contain",
        "path",
    ),
    BadSettings(
        service(tmpfs={"/tmp/$HOME": "8MiB"}),
        _key('services.reports.tmpfs["/tmp/$HOME"]'),
        "may only contain",
        "path",
    ),
    # --- every grammar matches the whole value ----------------------------------------------
    BadSettings(
        edge(routes={"ws": {"host": "app.example.org", "path": "/ws\n", "service": "reports", "port": 8000}}),
        _key("edge.routes.ws.path"),
        "URL path",
        "grammar",
    ),
    BadSettings({"volumes": {"app-db\n": {}}}, _key('volumes["app-db\\n"]'), "lowercase letters", "grammar"),
    BadSettings(
        {"services": {"reports\n": {}}}, _key('services["reports\\n"]'), "lowercase letters", "grammar"
    ),
    BadSettings(
        {"host": {**SSH_HOST, "address": "docker.example.org\n"}},
        _key("host.address"),
        "IP address or a DNS name",
        "grammar",
    ),
    BadSettings({"host": {**SSH_HOST, "user": "deploy\n"}}, _key("host.user"), "POSIX user", "grammar"),
    BadSettings(
        {"host": {**SSH_HOST, "hostKey": GOOD_HOST_KEY + "\n"}},
        _key("host.hostKey"),
        "no line break",
        "grammar",
    ),
    BadSettings(
        {"host": {**SSH_HOST, "address": "fe80::1%$(id)"}}, _key("host.address"), "%scope", "grammar"
    ),
    BadSettings(
        edge(routes={"app": {"host": "app.example.org\n", "service": "reports", "port": 8000}}),
        _key("edge.routes.app.host"),
        "DNS name",
        "grammar",
    ),
    BadSettings(
        service(image="registry.example.org/reports:1.4.2\n"),
        _key("services.reports.image"),
        "image reference",
        "grammar",
    ),
    BadSettings(service(user="1000:1000\n"), _key("services.reports.user"), "uid:gid", "grammar"),
    BadSettings(
        service(env={"LOG_LEVEL\n": "info"}),
        _key('services.reports.env["LOG_LEVEL\\n"]'),
        "environment variable name",
        "grammar",
    ),
    BadSettings(
        service(capabilities=["CHOWN\n"]),
        _key("services.reports.capabilities[0]"),
        "capability name",
        "grammar",
    ),
    BadSettings(
        service(healthcheck={"test": ["CMD", "true"], "interval": "30s\n"}),
        _key("services.reports.healthcheck.interval"),
        "duration",
        "grammar",
    ),
    BadSettings(volume(dataOwner="70:70\n"), _key("volumes.app-db.dataOwner"), "uid:gid", "grammar"),
    BadSettings(volume(dataMode="0700\n"), _key("volumes.app-db.dataMode"), "octal mode", "grammar"),
    BadSettings(volume(size="1GiB\n"), _key("volumes.app-db.size"), "must be a size", "grammar"),
    BadSettings({"edge": {"image": {"tag": "v3.7.15\n"}}}, _key("edge.image.tag"), "image tag", "grammar"),
    BadSettings(
        {"edge": {"image": {"digest": DIGEST + "\n"}}},
        _key("edge.image.digest"),
        "64 lowercase hex",
        "grammar",
    ),
    BadSettings(
        {"edge": {"image": {"repository": "traefik\n"}}},
        _key("edge.image.repository"),
        "image repository",
        "grammar",
    ),
    BadSettings(
        {"edge": {"websocket": {"allowedOrigins": ["https://app.example.org\n"]}}},
        _key("edge.websocket.allowedOrigins[0]"),
        "exact https origin",
        "grammar",
    ),
    BadSettings(
        {
            "edge": {
                "websocket": {"auth": {"service": "reports", "port": 8000, "responseHeaders": ["X-User\n"]}}
            }
        },
        _key("edge.websocket.auth.responseHeaders[0]"),
        "header name",
        "grammar",
    ),
    BadSettings(
        {"edge": {"certificates": {"mode": "acme", "acme": {"email": "ops@example.org\n"}}}},
        _key("edge.certificates.acme.email"),
        "e-mail",
        "grammar",
    ),
    BadSettings(
        {"firewall": {"interfaces": ["eth0\n"]}}, _key("firewall.interfaces[0]"), "interface name", "grammar"
    ),
    BadSettings(
        swarm_node(engineVersion="24.0.7\n"),
        _key("swarm.nodes.node-a.engineVersion"),
        "engine version",
        "grammar",
    ),
    BadSettings(
        volume(dataOwner="\u0667\u0660:70"),
        _key("volumes.app-db.dataOwner"),
        "uid:gid",
        "grammar",
        "Arabic-Indic digits read as 70 by int()",
    ),
    # --- unknown keys -----------------------------------------------------------------------
    BadSettings(
        {"encrpytion": {"unlockAtBoot": "manual"}},
        _key("encrpytion"),
        "unknown key (did you mean 'encryption'?)",
        "unknown",
    ),
    BadSettings(
        {"volume": {"app-db": {}}}, _key("volume"), "unknown key (did you mean 'volumes'?)", "unknown"
    ),
    BadSettings(
        {"sshPrivatKey": "not a secret here"},
        _key("sshPrivatKey"),
        "did you mean 'sshPrivateKey'?",
        "unknown",
    ),
    BadSettings({"tls": {}}, _key("tls"), "unknown key", "unknown"),
    BadSettings(
        volume(sise="1GiB"), _key("volumes.app-db.sise"), "unknown key (did you mean 'size'?)", "unknown"
    ),
    BadSettings(
        encryption(keysdir="/etc/ep/keys"), _key("encryption.keysdir"), "did you mean 'keysDir'?", "unknown"
    ),
    BadSettings(
        {"edge": {"certificates": {"mode": "acme", "acme": {"emial": "ops@example.org"}}}},
        _key("edge.certificates.acme.emial"),
        "did you mean 'email'?",
        "unknown",
    ),
    BadSettings(
        service(helthcheck={"test": ["CMD", "true"]}),
        _key("services.reports.helthcheck"),
        "did you mean 'healthcheck'?",
        "unknown",
    ),
    # --- the --path spelling of list indexes and non-identifier names -----------------------
    BadSettings(
        {"firewall": {"allowTcpPorts": [22, 70000]}}, _key("firewall.allowTcpPorts[1]"), "1-65535", "spelling"
    ),
    BadSettings(
        service(tmpfs={"/tmp": "0"}),
        _key('services.reports.tmpfs["/tmp"]'),
        "at least 1 byte",
        "spelling",
        "a 0 size tmpfs is unlimited",
    ),
    BadSettings(
        service(tmpfs={"/tmp": "1PiB"}), _key('services.reports.tmpfs["/tmp"]'), "must be a size", "spelling"
    ),
    BadSettings(
        {"edge": {"websocket": {"allowedOrigins": ["https://a.example.org", "http://b.example.org"]}}},
        _key("edge.websocket.allowedOrigins[1]"),
        "exact https origin",
        "spelling",
    ),
    BadSettings(
        service(command=["--port", "--insecure"]),
        _key("services.reports.command[1]"),
        "verification off",
        "spelling",
    ),
    BadSettings(
        service(egress=True, endpoints=["http://llm.example.org/v1"]),
        _key("services.reports.endpoints[0]"),
        "https:// URL",
        "spelling",
    ),
    BadSettings(
        {**service(volumes={"/srv/data": "/data"})},
        _key('services.reports.volumes["/srv/data"]'),
        "host path is not allowed",
        "spelling",
    ),
    # --- devices by stable names ------------------------------------------------------------
    BadSettings(
        device("/dev/vdb"), _key("volumes.app-db.device"), "may name another disk after a reboot", "device"
    ),
    BadSettings(
        device("/dev/sdb"), _key("volumes.app-db.device"), "may name another disk after a reboot", "device"
    ),
    BadSettings(
        device("/dev/nvme0n1"),
        _key("volumes.app-db.device"),
        "may name another disk after a reboot",
        "device",
    ),
    BadSettings(
        device("/dev/disk/by-label/data"),
        _key("volumes.app-db.device"),
        "may name another disk after a reboot",
        "device",
    ),
    BadSettings(
        device("/dev/mapper/ep-app-db"), _key("volumes.app-db.device"), "not a device-mapper name", "device"
    ),
    BadSettings(
        device(BY_ID, unstableDeviceReason="the only disk of this VM"),
        _key("volumes.app-db.unstableDeviceReason"),
        "is stable",
        "device",
    ),
    BadSettings(
        device("/dev/vdb", unstableDeviceReason="vm"),
        _key("volumes.app-db.unstableDeviceReason"),
        "why the device",
        "device",
    ),
    BadSettings(
        device("/dev/disk/by-id/virtio-app-db", size="2GiB"),
        _key("volumes.app-db.size"),
        "only used when backing is 'file'",
        "device",
    ),
    BadSettings(
        volume(unstableDeviceReason="a file needs no device name"),
        _key("volumes.app-db.unstableDeviceReason"),
        "only used when backing is 'device'",
        "device",
    ),
    # --- values -----------------------------------------------------------------------------
    BadSettings(volume(dataMode="0777"), _key("volumes.app-db.dataMode"), "nothing to others", "value"),
    BadSettings(volume(dataMode="0701"), _key("volumes.app-db.dataMode"), "nothing to others", "value"),
    BadSettings(volume(dataMode="0770"), _key("volumes.app-db.dataMode"), "group write", "value"),
    BadSettings({"edge": {"user": "0:0"}}, _key("edge.user"), "uid 0", "value"),
    BadSettings({"edge": {"user": "0000:65532"}}, _key("edge.user"), "uid 0", "value"),
    BadSettings(service(user="0:1000"), _key("services.reports.user"), "uid 0", "value"),
    BadSettings(service(user="root"), _key("services.reports.user"), "numeric 'uid:gid'", "basic"),
    BadSettings({"edge": {"user": "4294967296:1"}}, _key("edge.user"), "at most", "value"),
    BadSettings(volume(size="65TiB"), _key("volumes.app-db.size"), "at most 64TiB", "value"),
    BadSettings(volume(size=2**60), _key("volumes.app-db.size"), "at most 64TiB", "value"),
    BadSettings(volume(size="32MiB"), _key("volumes.app-db.size"), "at least 64MiB", "basic"),
    BadSettings(service(memory="128TiB"), _key("services.reports.memory"), "at most 64TiB", "value"),
    BadSettings(encryption(keyVersion=True), _key("encryption.keyVersion"), "not true", "value"),
    BadSettings(volume(keyVersion=True), _key("volumes.app-db.keyVersion"), "not true", "value"),
    BadSettings(
        encryption(reencryptGeneration=False), _key("encryption.reencryptGeneration"), "not false", "value"
    ),
    BadSettings({"host": {"port": True}}, _key("host.port"), "not true", "value"),
    BadSettings({"edge": {"ports": {"https": True}}}, _key("edge.ports.https"), "not true", "value"),
    BadSettings(encryption(kdf={"memoryKib": True}), _key("encryption.kdf.memoryKib"), "not true", "value"),
    BadSettings(service(pids=True), _key("services.reports.pids"), "not true", "value"),
    BadSettings(service(cpus=True), _key("services.reports.cpus"), "not true", "value"),
    BadSettings(
        {"firewall": {"allowTcpPorts": [True]}}, _key("firewall.allowTcpPorts[0]"), "not true", "value"
    ),
    BadSettings({"runtime": {"logMaxFiles": True}}, _key("runtime.logMaxFiles"), "not true", "value"),
    BadSettings(encryption(keyVersion="2\n"), _key("encryption.keyVersion"), "whole number", "value"),
    BadSettings(
        volume(destroyDataOnDelete="yes"),
        _key("volumes.app-db.destroyDataOnDelete"),
        "valid boolean",
        "value",
    ),
    BadSettings({"host": {"become": 1}}, _key("host.become"), "valid boolean", "value"),
    BadSettings(
        {"volumes": {"logs": {}}, "services": {"observability": {}}},
        _key("volumes.logs.dataOwner"),
        "runs as its volumes' owner; containers never run as uid 0: set 10001:10001",
        "value",
        "a service without a user runs as its volumes' dataOwner, 0:0 by default",
    ),
    BadSettings(
        {
            "volumes": {"documents": {"dataOwner": "0:1000"}},
            "services": {
                "reports": {
                    "image": "registry.example.org/reports:1.4.2",
                    "volumes": {"documents": "/srv/reports"},
                }
            },
        },
        _key("volumes.documents.dataOwner"),
        "containers never run as uid 0",
        "value",
    ),
    # --- backups ----------------------------------------------------------------------------
    BadSettings({"backups": {"enabled": True}}, _key("backups.repository.kind"), "required", "cross"),
    BadSettings(
        backups(repository={"kind": "sftp", "url": "rest:http://backup.example.org:8000/ep"}),
        _key("backups.repository.url"),
        "plain http",
        "value",
    ),
    BadSettings(
        backups(repository={"kind": "sftp", "url": "s3:http://minio.example.org/ep"}),
        _key("backups.repository.url"),
        "plain http",
        "value",
    ),
    BadSettings(
        backups(repository={"kind": "sftp", "url": "s3:https://s3.example.org/ep"}),
        _key("backups.repository.url"),
        "not supported",
        "value",
    ),
    BadSettings(
        backups(repository={"kind": "sftp", "url": "sftp:backup@backup.example.org:/srv/r'$(id)'"}),
        _key("backups.repository.url"),
        "sftp:USER@HOST:/ABSOLUTE/PATH",
        "grammar",
    ),
    BadSettings(
        backups(repository={"kind": "sftp", "url": "sftp:backup@backup.example.org:/srv/restic/ep\n"}),
        _key("backups.repository.url"),
        "sftp:USER@HOST:/ABSOLUTE/PATH",
        "grammar",
    ),
    BadSettings(backups(repository={"kind": "sftp"}), _key("backups.repository.url"), "required", "cross"),
    BadSettings(
        backups(repository={**SFTP_REPOSITORY, "path": "/mnt/backup-disk/ep"}),
        _key("backups.repository.path"),
        "only used when kind is 'local'",
        "cross",
    ),
    BadSettings(
        backups(repository={"kind": "ftp"}), _key("backups.repository.kind"), "'local' or 'sftp'", "value"
    ),
    BadSettings(
        local_repository(otherDevice=False),
        _key("backups.repository.otherDevice"),
        "must be true",
        "cross",
    ),
    BadSettings(
        local_repository(otherDevice="yes"),
        _key("backups.repository.otherDevice"),
        "valid boolean",
        "value",
    ),
    BadSettings(
        local_repository(path="/mnt/backup disk"), _key("backups.repository.path"), "may only contain", "path"
    ),
    BadSettings(local_repository(path="/mnt"), _key("backups.repository.path"), "system directory", "path"),
    BadSettings(
        local_repository(path="/srv/encrypted/backup"),
        _key("backups.repository.path"),
        "overlaps encryption.root",
        "cross",
    ),
    BadSettings(
        local_repository(path="/var/backups/encrypted-platform/restic"),
        _key("backups.repository.path"),
        "overlaps encryption.headerBackupDir",
        "cross",
    ),
    BadSettings(
        local_repository(url="sftp:backup@backup.example.org:/srv/restic/ep"),
        _key("backups.repository.url"),
        "only used when kind is 'sftp'",
        "cross",
    ),
    BadSettings(backups(dailyAt="24:00"), _key("backups.dailyAt"), "time of day", "grammar"),
    BadSettings(backups(dailyAt="2:30"), _key("backups.dailyAt"), "time of day", "grammar"),
    BadSettings(
        backups(retention={"keepDaily": 0, "keepWeekly": 0, "keepMonthly": 0}),
        _key("backups.retention.keepDaily"),
        "at least one",
        "value",
    ),
    BadSettings(
        backups(retention={"keepWeekly": 1001}),
        _key("backups.retention.keepWeekly"),
        "less than or equal to 1000",
        "value",
    ),
    BadSettings(
        backups(retention={"keepMonthly": True}), _key("backups.retention.keepMonthly"), "not true", "value"
    ),
    BadSettings(
        backups(retention={"keepDayly": 7}), _key("backups.retention.keepDayly"), "did you mean", "unknown"
    ),
    BadSettings(
        backups(volumes=["app-db", "app-dbb"]),
        _key("backups.volumes[1]"),
        "unknown EncryptedVolume 'app-dbb'",
        "spelling",
    ),
    BadSettings(backups(volumes=["app-db", "app-db"]), _key("backups.volumes[1]"), "twice", "spelling"),
    BadSettings(backups(volumes=[]), _key("backups.volumes"), "at least one volume", "value"),
    BadSettings(
        {**backups(), "runtime": {"secretsVolume": "vault"}},
        _key("runtime.secretsVolume"),
        "repository password",
        "cross",
    ),
    BadSettings({**backups(), **swarm_node()}, _key("backups.enabled"), "Swarm mode", "cross"),
    # --- cross-key and prod checks, while parsing -------------------------------------------
    BadSettings(
        prod_edge(image={}), _key("edge.image.digest"), "required when environment is 'prod'", "cross"
    ),
    BadSettings(
        prod_edge(certificates={"mode": "dev"}),
        _key("edge.certificates.mode"),
        "not allowed in prod",
        "cross",
    ),
    BadSettings(
        prod_edge(certificates={"mode": "acme", "acme": {"email": "ops@example.org", "staging": True}}),
        _key("edge.certificates.acme.staging"),
        "not allowed in prod",
        "cross",
    ),
    BadSettings(
        edge(routes={"app": {"host": "app.example.org", "service": "billing", "port": 8000}}),
        _key("edge.routes.app.service"),
        "unknown or disabled service 'billing'",
        "basic",
    ),
    BadSettings(
        {
            "volumes": {
                "one": {"backing": "device", "device": BY_ID},
                "two": {"backing": "device", "device": BY_ID},
            }
        },
        _key("volumes.two.device"),
        "already used by volume 'one'",
        "basic",
    ),
    # --- the checks that held before --------------------------------------------------------
    BadSettings({"volumes": {"App_DB": {}}}, _key("volumes.App_DB"), "lowercase", "basic"),
    BadSettings(volume(size="big"), _key("volumes.app-db.size"), "2GiB", "basic"),
    BadSettings(volume(backing="device"), _key("volumes.app-db.device"), "required", "basic"),
    BadSettings(device("/tmp/disk"), _key("volumes.app-db.device"), "/dev/", "basic"),
    BadSettings(volume(backing="tape"), _key("volumes.app-db.backing"), "'file' or 'device'", "basic"),
    BadSettings(volume(dataOwner="postgres"), _key("volumes.app-db.dataOwner"), "uid:gid", "basic"),
    BadSettings(volume(dataMode="rwx"), _key("volumes.app-db.dataMode"), "octal", "basic"),
    BadSettings(
        volume(keyVersion=0), _key("volumes.app-db.keyVersion"), "greater than or equal to 1", "basic"
    ),
    BadSettings(
        {"host": {"mode": "ssh", "hostKey": GOOD_HOST_KEY}}, _key("host.address"), "required", "basic"
    ),
    BadSettings({"host": {"mode": "ssh", "address": "192.0.2.7"}}, _key("host.hostKey"), "required", "basic"),
    BadSettings(
        {"host": {**SSH_HOST, "address": "not a host!"}},
        _key("host.address"),
        "IP address or a DNS name",
        "basic",
    ),
    BadSettings({"host": {"port": 0}}, _key("host.port"), "greater than or equal to 1", "basic"),
    BadSettings({"host": {"mode": "telnet"}}, _key("host.mode"), "'local' or 'ssh'", "basic"),
    BadSettings({"host": {"hostKey": "AAAA"}}, _key("host.hostKey"), "public key", "basic"),
    BadSettings(
        encryption(unlockAtBoot="tpm"),
        _key("encryption.unlockAtBoot"),
        "'crypttab', 'manual', 'tang' or 'tpm2'",
        "basic",
    ),
    # --- network-bound unlock -------------------------------------------------------------------
    BadSettings(encryption(unlockAtBoot="tang"), _key("encryption.tang.servers"), "at least one", "basic"),
    BadSettings(
        encryption(unlockAtBoot="tang", tang={"servers": [{"url": "http://tang.example:7500"}]}),
        _key("encryption.tang.servers[0].thumbprint"),
        "required",
        "basic",
    ),
    BadSettings(
        encryption(tang={"servers": [{"url": "http://tang.example:7500", "thumbprint": "short"}]}),
        _key("encryption.tang.servers[0].thumbprint"),
        "thumbprint",
        "basic",
    ),
    *(
        BadSettings(
            encryption(tang={"servers": [{"url": url, "thumbprint": GOOD_THUMBPRINT}]}),
            _key("encryption.tang.servers[0].url"),
            fragment,
            "basic",
        )
        for url, fragment in (
            ("tang.example:7500", "http(s) URL"),
            ("ftp://tang.example", "http(s) URL"),
            ("http://user@tang.example", "no user"),
            ("http://tang.example/adv?x=1", "no user, query"),
            ("http://tang.example:70000", "65535"),
            ("http://tang.example/$(reboot)", "http(s) URL"),
            ("http://tang.example'", "http(s) URL"),
            ('http://tang.example"}', "http(s) URL"),
            ("http://tang.example\n", "http(s) URL"),
        )
    ),
    BadSettings(
        encryption(
            tang={
                "servers": [
                    {"url": "http://tang-1.example", "thumbprint": GOOD_THUMBPRINT},
                    {"url": "http://tang-1.example", "thumbprint": GOOD_THUMBPRINT},
                ]
            }
        ),
        _key("encryption.tang.servers[1].url"),
        "listed twice",
        "basic",
    ),
    BadSettings(
        encryption(
            tang={
                "threshold": 2,
                "servers": [{"url": "http://tang-1.example", "thumbprint": GOOD_THUMBPRINT}],
            }
        ),
        _key("encryption.tang.threshold"),
        "only 1 Tang server",
        "basic",
    ),
    BadSettings(
        encryption(tang={"threshold": 0}),
        _key("encryption.tang.threshold"),
        "greater than or equal to 1",
        "basic",
    ),
    BadSettings(encryption(tang={"sever": []}), _key("encryption.tang.sever"), "unknown", "basic"),
    BadSettings(
        encryption(tpm2={"pcrIds": [7, 7]}), _key("encryption.tpm2.pcrIds[1]"), "listed twice", "basic"
    ),
    BadSettings(encryption(tpm2={"pcrIds": [0, 24]}), _key("encryption.tpm2.pcrIds[1]"), "0 to 23", "basic"),
    BadSettings(encryption(tpm2={"pcrIds": "7"}), _key("encryption.tpm2.pcrIds"), "list", "basic"),
    BadSettings(encryption(tpm2={"pcrBank": "md5"}), _key("encryption.tpm2.pcrBank"), "'sha256'", "basic"),
    BadSettings(encryption(kdf={"pbkdf": "scrypt"}), _key("encryption.kdf.pbkdf"), "argon2id", "basic"),
    BadSettings(encryption(kdf={"iterations": 4}), _key("encryption.kdf.memoryKib"), "required", "basic"),
    BadSettings(
        encryption(kdf={"pbkdf": "pbkdf2", "memoryKib": 65536}),
        _key("encryption.kdf.memoryKib"),
        "pbkdf2",
        "basic",
    ),
    BadSettings(
        encryption(kdf={"memoryKib": 1}),
        _key("encryption.kdf.memoryKib"),
        "greater than or equal to 32",
        "basic",
    ),
    BadSettings(encryption(root="srv/encrypted"), _key("encryption.root"), "absolute path", "basic"),
    BadSettings(
        encryption(keysDir="/srv/encrypted/keys"),
        _key("encryption.root"),
        "keysDir (/srv/encrypted/keys)",
        "basic",
    ),
    BadSettings(
        encryption(keyVersion=-1), _key("encryption.keyVersion"), "greater than or equal to 1", "basic"
    ),
    BadSettings(encryption(filesystem="btrfs"), _key("encryption.filesystem"), "ext4", "basic"),
    BadSettings({"environment": "qa"}, _key("environment"), "'dev', 'staging' or 'prod'", "basic"),
]
