"""Rule certificates: staging ACME in production, expired certificates."""

from __future__ import annotations

import datetime as dt

import pulumi_docker as docker

from . import violation
from .baseline import DYNAMIC_CONFIG, STATIC_CONFIG, app, edge, internal_network, luks_volume
from .tls_only_routes_traefik_sources import STATIC_FLAGS

RULE = "certificates"
STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
ACME = """certificatesResolvers:
  le:
    acme:
      email: ops@example.test
      storage: /var/lib/traefik/acme.json
      caServer: {server}
      httpChallenge: {{entryPoint: web}}
"""


def _platform() -> docker.Network:
    net = internal_network("app-net")
    _cmd, vol = luks_volume("appdata")
    app(net, vol)
    return net


def expired_certificate_pem() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.example.test")])
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=90))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@violation(RULE, resource="edge", exact=True, stack="prod")
def staging_acme_in_production_file() -> None:
    """Let's Encrypt staging left in the production static file."""
    net = _platform()
    edge(net, static=STATIC_CONFIG + ACME.format(server=STAGING))


@violation(RULE, resource="edge", exact=True, stack="live", stack_config={"environment": "prod"})
def staging_acme_in_production_flag() -> None:
    """The same through a command-line flag; production is read from the stack's config."""
    net = _platform()
    edge(
        net,
        command=[
            "traefik",
            *STATIC_FLAGS,
            f"--certificatesresolvers.le.acme.caserver={STAGING}",
            "--certificatesresolvers.le.acme.httpchallenge.entrypoint=web",
        ],
        # No static file: Traefik reads its flags only when it finds no configuration file.
        uploads=[docker.ContainerUploadArgs(file="/etc/traefik/dynamic/routes.yml", content=DYNAMIC_CONFIG)],
    )


@violation(RULE, resource="edge", exact=True)
def acme_over_http() -> None:
    """An ACME directory reached over plain HTTP (any stack)."""
    net = _platform()
    edge(net, static=STATIC_CONFIG + ACME.format(server="http://ca.internal.example:14000/dir"))


@violation(RULE, resource="edge", exact=True)
def expired_custom_certificate() -> None:
    """A custom certificate that expired years ago, uploaded to the edge."""
    net = _platform()
    dynamic = (
        DYNAMIC_CONFIG
        + "  certificates:\n    - certFile: /etc/traefik/certs/app.crt\n      keyFile: /etc/traefik/certs/app.key\n"
    )
    edge(
        net,
        dynamic=dynamic,
        uploads=[
            docker.ContainerUploadArgs(file="/etc/traefik/traefik.yml", content=STATIC_CONFIG),
            docker.ContainerUploadArgs(file="/etc/traefik/dynamic/routes.yml", content=dynamic),
            docker.ContainerUploadArgs(file="/etc/traefik/certs/app.crt", content=expired_certificate_pem()),
        ],
    )
