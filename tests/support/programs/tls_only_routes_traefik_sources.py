"""Traefik configuration as Traefik really loads it (rule tls-only-routes): one static source,
and every file the edge reads however it gets there. The providers the pack cannot see are in
traefik_providers_visible.py.

The constants of the two plain-HTTP cases are also run on the real Traefik by
tests/edge/test_static_source_precedence.py, which shows they serve plain HTTP.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_random as random

from . import violation
from .baseline import DYNAMIC_CONFIG, STATIC_CONFIG, app, edge, hardened, internal_network, luks_volume

TLS_RULE = "tls-only-routes"

# The static configuration of the baseline, as flags and as TRAEFIK_* variables.
STATIC_FLAGS = [
    "--global.checkNewVersion=false",
    "--global.sendAnonymousUsage=false",
    "--entryPoints.web.address=:80",
    "--entryPoints.web.http.redirections.entryPoint.to=websecure",
    "--entryPoints.web.http.redirections.entryPoint.scheme=https",
    "--entryPoints.websecure.address=:443",
    "--entryPoints.websecure.http.tls=true",
    "--entryPoints.websecure.http.middlewares=secure-headers@file",
    "--providers.file.directory=/etc/traefik/dynamic",
]
STATIC_ENV = [
    "TRAEFIK_ENTRYPOINTS_WEB_ADDRESS=:80",
    "TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_TO=websecure",
    "TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_SCHEME=https",
    "TRAEFIK_ENTRYPOINTS_WEBSECURE_ADDRESS=:443",
    "TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS=true",
    "TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_MIDDLEWARES=secure-headers@file",
    "TRAEFIK_PROVIDERS_FILE_DIRECTORY=/etc/traefik/dynamic",
]

# Case 1: the static file leaves `web` plain (no redirect, no TLS)...
PLAIN_WEB_STATIC = """\
global: {checkNewVersion: false, sendAnonymousUsage: false}
entryPoints:
  web:
    address: ":80"
  websecure:
    address: ":443"
    http:
      tls: {}
providers:
  file: {directory: /etc/traefik/dynamic, watch: false}
"""
# ... a flag or variable claims TLS on it (Traefik ignores both: it read a file) ...
WEB_TLS_FLAG = "--entryPoints.web.http.tls=true"
WEB_TLS_VARIABLE = "TRAEFIK_ENTRYPOINTS_WEB_HTTP_TLS=true"
# ... and a router listens on it without TLS of its own.
WEB_ROUTER_DYNAMIC = """\
http:
  middlewares:
    secure-headers:
      headers:
        stsSeconds: 31536000
        stsIncludeSubdomains: true
        contentSecurityPolicy: "frame-ancestors 'self'"
        contentTypeNosniff: true
        referrerPolicy: strict-origin-when-cross-origin
  routers:
    app:
      rule: Host(`app.example.test`)
      entryPoints: [web]
      service: app
      middlewares: [secure-headers]
  services:
    app:
      loadBalancer:
        servers:
          - url: http://app:8080
"""
# Case 2 (the reverse): no file where Traefik looks, so the flags apply and leave `web` plain;
# a file Traefik never reads (not --configFile, not a default location) claims TLS on it.
PLAIN_WEB_FLAGS = [
    "--global.checkNewVersion=false",
    "--global.sendAnonymousUsage=false",
    "--entryPoints.web.address=:80",
    "--entryPoints.websecure.address=:443",
    "--entryPoints.websecure.http.tls=true",
    "--providers.file.directory=/etc/traefik/dynamic",
]
IGNORED_STATIC_PATH = "/etc/traefik/static.yml"
TLS_CLAIMING_STATIC = PLAIN_WEB_STATIC.replace(
    '    address: ":80"\n', '    address: ":80"\n    http:\n      tls: {}\n', 1
)


def app_platform() -> docker.Network:
    """The baseline's LUKS volume, internal network and app (the edge is each program's own)."""
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol)
    return net


def dynamic_upload(content: str = DYNAMIC_CONFIG) -> docker.ContainerUploadArgs:
    return docker.ContainerUploadArgs(file="/etc/traefik/dynamic/routes.yml", content=content)


# --- the one static source -------------------------------------------------------------------


@violation(TLS_RULE, resource="edge", exact=True)
def static_file_plain_web_and_flag_claiming_tls() -> None:
    """The static file leaves web plain; a flag claims entrypoints.web.http.tls=true, but Traefik
    reads the file only; the router on web serves plain HTTP."""
    net = app_platform()
    edge(
        net,
        static=PLAIN_WEB_STATIC,
        dynamic=WEB_ROUTER_DYNAMIC,
        command=["traefik", "--configFile=/etc/traefik/traefik.yml", WEB_TLS_FLAG],
    )


@violation(TLS_RULE, resource="edge", exact=True)
def static_file_plain_web_and_variable_claiming_tls() -> None:
    """The same with TRAEFIK_ENTRYPOINTS_WEB_HTTP_TLS=true: ignored next to a file."""
    net = app_platform()
    edge(net, static=PLAIN_WEB_STATIC, dynamic=WEB_ROUTER_DYNAMIC, envs=[WEB_TLS_VARIABLE])


@violation(TLS_RULE, resource="edge", exact=True)
def flags_plain_web_and_ignored_file_claiming_tls() -> None:
    """The reverse: no file where Traefik looks, so its flags apply and leave web plain; the file
    that claims TLS on web is at a path Traefik never reads."""
    net = app_platform()
    edge(
        net,
        command=["traefik", *PLAIN_WEB_FLAGS],
        uploads=[
            docker.ContainerUploadArgs(file=IGNORED_STATIC_PATH, content=TLS_CLAIMING_STATIC),
            dynamic_upload(WEB_ROUTER_DYNAMIC),
        ],
    )


@violation(TLS_RULE, resource="edge", exact=True)
def environment_plain_web_and_ignored_file_claiming_tls() -> None:
    """No file, no flags: the environment applies (web plain); the TLS-claiming file is ignored."""
    net = app_platform()
    edge(
        net,
        command=[],
        envs=[
            "TRAEFIK_ENTRYPOINTS_WEB_ADDRESS=:80",
            "TRAEFIK_ENTRYPOINTS_WEBSECURE_ADDRESS=:443",
            "TRAEFIK_PROVIDERS_FILE_DIRECTORY=/etc/traefik/dynamic",
        ],
        uploads=[
            docker.ContainerUploadArgs(file=IGNORED_STATIC_PATH, content=TLS_CLAIMING_STATIC),
            dynamic_upload(WEB_ROUTER_DYNAMIC),
        ],
    )


@violation(TLS_RULE, resource="edge", exact=True)
def default_location_file_overrides_flags() -> None:
    """No --configFile, but /etc/traefik/traefik.toml exists (a default location, searched before
    .yml): Traefik reads it and ignores the flags that would have redirected web."""
    net = app_platform()
    toml = """[entryPoints.web]
address = ":80"
[entryPoints.websecure]
address = ":443"
[entryPoints.websecure.http.tls]
[providers.file]
directory = "/etc/traefik/dynamic"
"""
    edge(
        net,
        command=["traefik", *STATIC_FLAGS],
        uploads=[
            docker.ContainerUploadArgs(file="/etc/traefik/traefik.toml", content=toml),
            dynamic_upload(WEB_ROUTER_DYNAMIC),
        ],
    )


@violation(TLS_RULE, resource="edge", exact=True)
def config_file_flag_in_another_letter_case_is_not_the_config_file() -> None:
    """`--ConfigFile=...`: Traefik's file loader looks the flag up as configFile or configfile
    only, so it searches the default locations, finds none and applies the flags (web plain)."""
    net = app_platform()
    edge(
        net,
        command=["traefik", "--ConfigFile=/config/traefik.yml", *PLAIN_WEB_FLAGS],
        uploads=[
            docker.ContainerUploadArgs(file="/config/traefik.yml", content=STATIC_CONFIG),
            dynamic_upload(WEB_ROUTER_DYNAMIC),
        ],
    )


@violation(TLS_RULE, resource="edge", exact=True)
def missing_config_file_falls_back_to_flags() -> None:
    """--configFile names a file that does not exist: Traefik searches on, finds nothing and
    applies the flags (web plain); the file that claims TLS is elsewhere."""
    net = app_platform()
    edge(
        net,
        command=["traefik", "--configFile=/etc/traefik/traefik-prod.yml", *PLAIN_WEB_FLAGS],
        uploads=[
            docker.ContainerUploadArgs(file="/etc/traefik/prod.yml", content=TLS_CLAIMING_STATIC),
            dynamic_upload(WEB_ROUTER_DYNAMIC),
        ],
    )


@violation(TLS_RULE, resource="edge", exact=True)
def config_file_from_home_of_the_container_user() -> None:
    """$HOME/.config/traefik.yml of root (/root) is a default location; a file there that leaves
    web plain is what Traefik loads (the flags are ignored)."""
    net = app_platform()
    edge(
        net,
        command=["traefik", *STATIC_FLAGS],
        uploads=[
            docker.ContainerUploadArgs(file="/root/.config/traefik.yml", content=PLAIN_WEB_STATIC),
            dynamic_upload(WEB_ROUTER_DYNAMIC),
        ],
    )


@violation(TLS_RULE, resource="edge")
def shell_wrapped_traefik_command() -> None:
    """The edge starts Traefik through a shell: which static source applies cannot be proven."""
    net = app_platform()
    edge(net, command=["sh", "-c", "exec traefik --configFile=/etc/traefik/traefik.yml"])


# --- edge configuration reaching the edge by any means ------------------------------------------

PLAIN_ROUTER_DYNAMIC = DYNAMIC_CONFIG.replace(
    "  routers:\n",
    "  routers:\n    api:\n      rule: Host(`api.example.test`)\n      entryPoints: [web]\n"
    "      service: app\n      middlewares: [secure-headers]\n",
    1,
)


def _edge_reading_volume(*writers: pulumi.Resource, depend: bool = True) -> None:
    """The edge reads /etc/traefik from a stack volume at /srv/edgecfg/data, its static file
    uploaded; `writers` are the Commands that put files there."""
    net = app_platform()
    _luks, cfg = luks_volume("edgecfg", device="/dev/vdc")
    base = command.local.Command(
        "edge-base-routes",
        create="install -D -m 0644 /dev/stdin /srv/edgecfg/data/dynamic/base.yml",
        stdin=DYNAMIC_CONFIG,
    )
    edge(
        net,
        uploads=[docker.ContainerUploadArgs(file="/etc/traefik.yml", content=STATIC_CONFIG)],
        command=["traefik", "--configFile=/etc/traefik.yml"],
        mounts=[
            docker.ContainerMountArgs(type="volume", source=cfg.name, target="/etc/traefik", read_only=True)
        ],
        opts=pulumi.ResourceOptions(depends_on=[base, *writers] if depend else [base]),
    )


@violation(TLS_RULE, resource="edge-routes", exact=True)
def dynamic_file_from_a_here_document() -> None:
    """A here-document in the program writes a plain router into the provider directory."""
    writer = command.local.Command(
        "edge-routes",
        create=f"mkdir -p /srv/edgecfg/data/dynamic\ncat > /srv/edgecfg/data/dynamic/routes.yml <<'EOF'\n{PLAIN_ROUTER_DYNAMIC}EOF\n",
    )
    _edge_reading_volume(writer)


@violation(TLS_RULE, resource="edge-routes", exact=True)
def dynamic_file_from_printf_json() -> None:
    """printf of a one-line JSON document (the file provider reads .yml as YAML, JSON is YAML)."""
    document = json.dumps(
        {
            "http": {
                "routers": {
                    "api": {
                        "rule": "Host(`api.example.test`)",
                        "entryPoints": ["web"],
                        "service": "app",
                        "middlewares": ["secure-headers"],
                    }
                },
                "services": {"app": {"loadBalancer": {"servers": [{"url": "http://app:8080"}]}}},
            }
        }
    )
    writer = command.local.Command(
        "edge-routes", create=f"printf '%s\\n' '{document}' > /srv/edgecfg/data/dynamic/api.yml"
    )
    _edge_reading_volume(writer)


@violation(TLS_RULE, resource="edge-routes", exact=True)
def dynamic_file_from_one_line_stdin() -> None:
    """A one-line JSON document on stdin, written with tee; the edge does not depend on it."""
    document = json.dumps(
        {
            "http": {
                "routers": {
                    "api": {
                        "rule": "Host(`api.example.test`)",
                        "entryPoints": ["web"],
                        "service": "app",
                        "middlewares": ["secure-headers"],
                    }
                }
            }
        }
    )
    writer = command.local.Command(
        "edge-routes", create="tee /srv/edgecfg/data/dynamic/api.yml >/dev/null", stdin=document
    )
    _edge_reading_volume(writer, depend=False)


@violation(TLS_RULE, resource="edge-routes", exact=True)
def dynamic_file_downloaded_with_curl() -> None:
    """curl downloads the routes into the provider directory: unknown at every preview."""
    writer = command.local.Command(
        "edge-routes",
        create="curl -fsSL https://config.example.test/routes.yml -o /srv/edgecfg/data/dynamic/routes.yml",
    )
    _edge_reading_volume(writer)


@violation(TLS_RULE, resource="edge-routes", exact=True)
def dynamic_file_downloaded_with_wget_through_a_variable() -> None:
    """wget -O with the directory in a variable (resolved by the reader)."""
    writer = command.local.Command(
        "edge-routes",
        create='DIR=/srv/edgecfg/data/dynamic\nwget -q -O "$DIR/routes.yml" https://config.example.test/r.yml\n',
    )
    _edge_reading_volume(writer)


@violation(TLS_RULE, resource="edge-routes", exact=True, variants=("preview",))
def unknown_stdin_without_a_dependency() -> None:
    """The content is unknown at preview and the edge does not even depend on the Command."""
    token = random.RandomPassword("route-token", length=12, special=False)
    writer = command.local.Command(
        "edge-routes",
        create="install -D -m 0644 /dev/stdin /srv/edgecfg/data/dynamic/routes.yml",
        stdin=token.result.apply(
            lambda t: DYNAMIC_CONFIG.replace("app.example.test", f"{t.lower()}.example.test")
        ),
    )
    _edge_reading_volume(writer, depend=False)


@violation(TLS_RULE, resource="edge-routes", exact=True)
def dynamic_files_copied_from_a_host_directory() -> None:
    """cp -r of a directory on the host: the pack cannot see what is copied."""
    writer = command.local.Command(
        "edge-routes", create="cp -r /opt/traefik-routes/. /srv/edgecfg/data/dynamic/"
    )
    _edge_reading_volume(writer)


@violation(TLS_RULE, resource="edge-routes", exact=True)
def dynamic_files_unpacked_from_an_archive() -> None:
    """tar -x into the provider directory."""
    writer = command.local.Command(
        "edge-routes", create="tar -xzf /opt/routes.tar.gz -C /srv/edgecfg/data/dynamic"
    )
    _edge_reading_volume(writer)


@violation(TLS_RULE, resource="edge-routes", exact=True)
def dynamic_file_is_a_go_template() -> None:
    """A Go template: Traefik expands {{ env "ENTRYPOINT" }} when it reads the file."""
    template = DYNAMIC_CONFIG.replace("entryPoints: [websecure]", 'entryPoints: [{{ env "ENTRYPOINT" }}]')
    writer = command.local.Command(
        "edge-routes",
        create="install -D -m 0644 /dev/stdin /srv/edgecfg/data/dynamic/routes.yml",
        stdin=template,
    )
    _edge_reading_volume(writer)


@violation(TLS_RULE, resource="edge")
def provider_directory_bound_from_the_host() -> None:
    """The provider directory is a bind of a host directory nobody in the stack writes."""
    net = app_platform()
    edge(
        net,
        uploads=[docker.ContainerUploadArgs(file="/etc/traefik/traefik.yml", content=STATIC_CONFIG)],
        mounts=[
            docker.ContainerMountArgs(
                type="bind", source="/opt/traefik/dynamic", target="/etc/traefik/dynamic", read_only=True
            )
        ],
    )


@violation(TLS_RULE, resource="edge", exact=True)
def provider_volume_shared_with_a_writable_container() -> None:
    """Another container mounts the edge's configuration volume writable: it can add routers."""
    net = app_platform()
    _luks, cfg = luks_volume("edgecfg", device="/dev/vdc")
    edge(
        net,
        mounts=[
            docker.ContainerMountArgs(
                type="volume", source=cfg.name, target="/etc/traefik/dynamic", read_only=True
            )
        ],
    )
    docker.Container(
        "config-sync",
        **hardened(
            name="config-sync",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=net.name)],
            mounts=[docker.ContainerMountArgs(type="volume", source=cfg.name, target="/out")],
        ),
    )


@violation(TLS_RULE, resource="edge-static", exact=True)
def static_file_written_by_a_command_at_the_default_location() -> None:
    """No --configFile; a Command writes traefik.yml (web plain, router on web) into the volume
    mounted at /etc/traefik: Traefik finds it at the default location."""
    net = app_platform()
    _luks, cfg = luks_volume("edgecfg", device="/dev/vdc")
    static = command.local.Command(
        "edge-static",
        create=f"cat > /srv/edgecfg/data/traefik.yml <<'EOF'\n{PLAIN_WEB_STATIC}EOF\n"
        f"mkdir -p /srv/edgecfg/data/dynamic\ncat > /srv/edgecfg/data/dynamic/routes.yml <<'EOF'\n"
        f"{WEB_ROUTER_DYNAMIC}EOF\n",
    )
    edge(
        net,
        command=["traefik", *STATIC_FLAGS],
        uploads=[],
        mounts=[
            docker.ContainerMountArgs(type="volume", source=cfg.name, target="/etc/traefik", read_only=True)
        ],
        opts=pulumi.ResourceOptions(depends_on=[static]),
    )
