"""A compliant platform built from raw resources, and the pieces violating programs reuse.

Nothing here uses the project's components: the pack must accept a careful teammate's raw
resources as readily as our own.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_random as random

DIGEST = "@sha256:" + "ab" * 32
TRAEFIK_IMAGE = "traefik:v3.1" + DIGEST
APP_IMAGE = "ghcr.io/example/app:1.0" + DIGEST

STATIC_CONFIG = """\
global: {checkNewVersion: false, sendAnonymousUsage: false}
entryPoints:
  web:
    address: ":80"
    http:
      redirections:
        entryPoint: {to: websecure, scheme: https, permanent: true}
  websecure:
    address: ":443"
    http:
      tls: {}
      middlewares: [secure-headers@file]
providers:
  file: {directory: /etc/traefik/dynamic, watch: false}
"""

DYNAMIC_CONFIG = """\
http:
  middlewares:
    secure-headers:
      headers:
        stsSeconds: 31536000
        stsIncludeSubdomains: true
        contentSecurityPolicy: "default-src 'self'; frame-ancestors 'self'"
        contentTypeNosniff: true
        referrerPolicy: strict-origin-when-cross-origin
  routers:
    app:
      rule: Host(`app.example.test`)
      entryPoints: [websecure]
      service: app
      tls: {}
  services:
    app:
      loadBalancer:
        servers:
          - url: http://app:8080
tls:
  options:
    default:
      minVersion: VersionTLS12
      sniStrict: true
"""


def luks_program(
    device: str,
    mapper: str,
    mount: str,
    *,
    luks_type: str = "luks2",
    cipher: str = "aes-xts-plain64",
    key_size: str = "512",
    pbkdf: str = "argon2id",
    open_type: str = "luks2",
) -> str:
    """What a careful teammate writes: format only a blank device, keys from stdin only."""
    return f"""set -eu
IFS= read -r KEY
DEVICE={device}
MAPPER={mapper}
MOUNT={mount}
if ! cryptsetup isLuks "$DEVICE"; then
  printf '%s' "$KEY" | cryptsetup luksFormat --batch-mode --type {luks_type} --cipher {cipher} --key-size {key_size} --pbkdf {pbkdf} --key-file=- "$DEVICE"
  NEW=1
fi
cryptsetup status "$MAPPER" >/dev/null 2>&1 || printf '%s' "$KEY" | cryptsetup open --type {open_type} --key-file=- "$DEVICE" "$MAPPER"
if [ "${{NEW:-0}}" = 1 ]; then mkfs.ext4 -q "/dev/mapper/$MAPPER"; fi
mkdir -p "$MOUNT"
mountpoint -q "$MOUNT" || mount -o nodev,nosuid "/dev/mapper/$MAPPER" "$MOUNT"
mkdir -p "$MOUNT/data"
"""


def luks_volume(
    name: str,
    device: str = "/dev/vdb",
    *,
    program: str | None = None,
    depends: bool = True,
    volume_name: str | None = None,
    **luks: Any,
) -> tuple[command.local.Command, docker.Volume]:
    mount = f"/srv/{name}"
    key = random.RandomPassword(f"{name}-key", length=48, special=False)
    secret_key: pulumi.Output[str] = pulumi.Output.secret(key.result)
    cmd = command.local.Command(
        f"{name}-luks",
        create=program if program is not None else luks_program(device, name, mount, **luks),
        stdin=secret_key,
    )
    vol = docker.Volume(
        name,
        name=volume_name or name,
        driver="local",
        driver_opts={"type": "none", "o": "bind", "device": f"{mount}/data"},
        opts=pulumi.ResourceOptions(depends_on=[cmd] if depends else []),
    )
    return cmd, vol


def internal_network(name: str, **overrides: Any) -> docker.Network:
    args: dict[str, Any] = dict(
        name=name,
        internal=True,
        labels=[docker.NetworkLabelArgs(label="encrypted-platform.network.role", value="internal")],
    )
    args.update(overrides)
    return docker.Network(name, **args)


def boundary_network(name: str, role: str) -> docker.Network:
    return docker.Network(
        name,
        name=name,
        internal=False,
        labels=[docker.NetworkLabelArgs(label="encrypted-platform.network.role", value=role)],
    )


def hardened(role: str = "service", **overrides: Any) -> dict[str, Any]:
    """Container arguments that pass every rule (and the advisory ones)."""
    args: dict[str, Any] = dict(
        image=APP_IMAGE,
        security_opts=["no-new-privileges:true"],
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
        read_only=True,
        memory=512,
        cpus="1",
        healthcheck=docker.ContainerHealthcheckArgs(tests=["CMD", "/app/healthcheck"], interval="30s"),
        tmpfs={"/tmp": "rw,noexec,nosuid,size=64m"},
        labels=[docker.ContainerLabelArgs(label="encrypted-platform.role", value=role)],
    )
    args.update(overrides)
    return args


def app(net: docker.Network, volume: docker.Volume, name: str = "app", **overrides: Any) -> docker.Container:
    args = hardened(
        name=name,
        networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
        mounts=[docker.ContainerMountArgs(type="volume", source=volume.name, target="/var/lib/app")],
    )
    args.update(overrides)
    return docker.Container(name, **args)


def edge(
    internal: docker.Network,
    *,
    static: str = STATIC_CONFIG,
    dynamic: str = DYNAMIC_CONFIG,
    name: str = "edge",
    **overrides: Any,
) -> docker.Container:
    ingress = boundary_network(f"{name}-ingress", "ingress")
    args = hardened(
        role="edge",
        name=name,
        image=TRAEFIK_IMAGE,
        command=["traefik", "--configFile=/etc/traefik/traefik.yml"],
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=["NET_BIND_SERVICE"]),
        ports=[
            docker.ContainerPortArgs(internal=80, external=80),
            docker.ContainerPortArgs(internal=443, external=443),
        ],
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(name=ingress.name),
            docker.ContainerNetworksAdvancedArgs(name=internal.name),
        ],
        uploads=[
            docker.ContainerUploadArgs(file="/etc/traefik/traefik.yml", content=static),
            docker.ContainerUploadArgs(file="/etc/traefik/dynamic/routes.yml", content=dynamic),
        ],
    )
    args.update(overrides)
    return docker.Container(name, **args)


def pids_limit(container: docker.Container, name: str, limit: int = 256) -> command.local.Command:
    """The PID limit pulumi-docker cannot set: `docker update --pids-limit` after creation."""
    return command.local.Command(
        f"{name}-pids-limit",
        create=f"docker -H unix:///var/run/docker.sock update --pids-limit {limit} {name}",
        opts=pulumi.ResourceOptions(depends_on=[container]),
    )


def compliant() -> None:
    """The whole compliant platform: LUKS volume, app on an internal network, Traefik edge, and an
    egress service on the egress network; every container with its PID limit."""
    _cmd, vol = luks_volume("appdata")
    net = internal_network("app-net")
    pids_limit(app(net, vol), "app")
    pids_limit(edge(net), "edge")
    egress = boundary_network("egress", "egress")
    gateway = docker.Container(
        "llm-gateway",
        **hardened(
            name="llm-gateway",
            labels=[
                docker.ContainerLabelArgs(label="encrypted-platform.role", value="service"),
                docker.ContainerLabelArgs(label="encrypted-platform.egress", value="true"),
            ],
            envs=["UPSTREAM_URL=https://api.llm.example.com/v1", "APP_URL=http://app:8080"],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=egress.name),
                docker.ContainerNetworksAdvancedArgs(name=net.name),
            ],
        ),
    )
    pids_limit(gateway, "llm-gateway")


def platform_with_app(*, app_pid_limit: bool = True, **app_overrides: Any) -> None:
    """The baseline's LUKS volume, internal network and edge, and its app built with `app_overrides`
    (the one mistake of an advisory rule's program)."""
    _cmd, vol = luks_volume("appdata")
    net = internal_network("app-net")
    container = app(net, vol, **app_overrides)
    if app_pid_limit:
        pids_limit(container, "app")
    pids_limit(edge(net), "edge")
