"""TraefikEdge: the platform's only entry point. TLS 1.2/1.3 terminates here; HTTP only redirects.

Public interface (what components/platform.py uses):

    edge = TraefikEdge(
        "edge",
        TraefikEdgeArgs(
            host=host,                                   # DockerHost
            settings=settings.edge,                      # EdgeSettings (config key `edge`)
            environment=settings.environment,            # "dev" | "staging" | "prod"
            backend_hosts={"webui": "webui", "api": "api"},  # every service named by a route or by
                                                         # edge.websocket.auth -> its host name on
                                                         # an internal network the edge joins
            ingress_network=ingress.name,                # the only network with published ports
            networks=[frontend.name],                    # internal networks to reach backends
            secrets_volume=volumes["config-secrets"],    # acme.json, TLS private key
            logs_volume=volumes["logs"],                 # traefik.log, traefik-access.log (JSON)
            tls_private_key=secrets.edge_tls_private_key,  # secret; custom mode only
        ),
        opts=pulumi.ResourceOptions(parent=self),
    )
    edge.container        # docker.Container (label encrypted-platform.role=edge)
    edge.ca_certificate   # Output[str] | None: the dev CA; export it (devCaCertificate) to trust it
    edge.urls             # ["https://<host>", ...]

What the children are, and why:
- docker.RemoteImage of the pinned reference (tag, plus digest in prod; `stack_problems`).
- docker.Container running `traefik --configFile=/etc/traefik/traefik.yml`. Its `uploads` hold
  the static and dynamic configuration rendered by components/traefik_config.py from the settings
  (plain values, known at preview: reviewable, and visible to the policy pack) plus public
  certificates. No Docker socket, no provider but the file provider, no dashboard, no env.
- Private keys never enter uploads (image layers sit unencrypted under /var/lib/docker): custom
  and dev keys go onto the secrets EncryptedVolume through a SecretFile (host Command, key on
  stdin); ACME keys are written by Traefik itself into acme.json (0600) on the same volume.
- dev mode: a local CA and a leaf for every routed host (pulumi-tls, ECDSA P-256).

Bad settings raise SettingsError while the program runs, i.e. at preview, before any change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker
import pulumi_tls as tls

from .encrypted_volume import EncryptedVolume
from .host import DockerHost
from .secret_file import SecretFile, SecretFileArgs
from .settings import PROJECT, SettingsError
from .settings.edge import EdgeSettings, chain_warnings, stack_problems
from .traefik_config import (
    CONTAINER_WEB_PORT,
    CONTAINER_WEBSECURE_PORT,
    TraefikLayout,
    render_files,
)

ROLE_LABEL = "encrypted-platform.role"
CONTAINER_PREFIX = "encrypted-platform"
KEY_FILE_MODE = "0400"
# Dev PKI lifetimes (hours). pulumi-tls re-issues within the early-renewal window on `pulumi up`.
DEV_CA_HOURS = 365 * 24
DEV_LEAF_HOURS = 90 * 24
DEV_EARLY_RENEWAL_HOURS = 30 * 24
HEALTHCHECK_INTERVAL = "10s"


@dataclass(frozen=True)
class TraefikEdgeArgs:
    host: DockerHost
    settings: EdgeSettings
    environment: str
    backend_hosts: Mapping[str, str]
    ingress_network: pulumi.Input[str]
    secrets_volume: EncryptedVolume
    logs_volume: EncryptedVolume
    networks: Sequence[pulumi.Input[str]] = ()
    tls_private_key: pulumi.Input[str] | None = None
    layout: TraefikLayout = field(default_factory=TraefikLayout)


def container_layout(args: TraefikEdgeArgs) -> TraefikLayout:
    """The container layout with the backend host names filled in."""
    base = args.layout
    return TraefikLayout(
        config_file=base.config_file,
        dynamic_dir=base.dynamic_dir,
        certs_dir=base.certs_dir,
        secrets_dir=base.secrets_dir,
        logs_dir=base.logs_dir,
        web_address=base.web_address,
        websecure_address=base.websecure_address,
        ping_address=base.ping_address,
        backend_hosts=dict(args.backend_hosts),
        acme_ca_certificates=base.acme_ca_certificates,
    )


def validate(args: TraefikEdgeArgs) -> list[str]:
    """Every problem with the arguments, as `pulumi config` key paths (empty when fine)."""
    settings = args.settings
    problems = [
        f"{PROJECT}:{p}"
        for p in stack_problems(settings, environment=args.environment, services=args.backend_hosts)
    ]
    if settings.user != "0:0":
        for volume in (args.secrets_volume, args.logs_volume):
            if volume.spec.data_owner != settings.user:
                problems.append(
                    f"{PROJECT}:volumes.{volume.spec.volume}.dataOwner: must be {settings.user!r} (edge.user) so "
                    f"Traefik can write its files there, got {volume.spec.data_owner!r}"
                )
    if settings.certificates.mode == "custom" and args.tls_private_key is None:
        problems.append(
            f"{PROJECT}:edgeTlsPrivateKey: required when edge.certificates.mode is 'custom' "
            "(pulumi config set --secret edgeTlsPrivateKey < key.pem)"
        )
    return problems


class TraefikEdge(pulumi.ComponentResource):
    container: docker.Container
    ca_certificate: pulumi.Output[str] | None
    urls: list[str]

    def __init__(self, name: str, args: TraefikEdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("encrypted-platform:edge:TraefikEdge", name, None, opts)
        problems = validate(args)
        if problems:
            raise SettingsError(problems)
        for warning in chain_warnings(args.settings):
            pulumi.log.warn(f"{PROJECT}:{warning}", resource=self)

        settings = args.settings
        layout = container_layout(args)
        docker_opts = pulumi.ResourceOptions(parent=self, provider=args.host.provider)
        self.layout = layout
        self.urls = [f"https://{host}" for host in settings.hosts]
        self.ca_certificate = None

        uploads = [
            docker.ContainerUploadArgs(file=path, content=content)
            for path, content in render_files(settings, layout).items()
        ]
        depends: list[pulumi.Resource] = [args.secrets_volume, args.logs_volume]
        mode = settings.certificates.mode
        if mode == "custom":
            assert settings.certificates.chain is not None and args.tls_private_key is not None
            uploads.append(
                docker.ContainerUploadArgs(file=layout.certificate_file, content=settings.certificates.chain)
            )
            depends.append(self._install_key(name, args, layout, args.tls_private_key))
        elif mode == "dev":
            certificate, key = self._dev_pki(name, settings.hosts)
            uploads.append(docker.ContainerUploadArgs(file=layout.certificate_file, content=certificate))
            depends.append(self._install_key(name, args, layout, key))

        self.image = docker.RemoteImage(
            f"{name}-image", name=settings.image.reference, keep_locally=True, opts=docker_opts
        )
        depends.append(self.image)
        networks = [args.ingress_network, *args.networks]
        self.container = docker.Container(
            name,
            name=f"{CONTAINER_PREFIX}-{name}",
            image=self.image.image_id,
            command=["traefik", f"--configFile={layout.config_file}"],
            user=settings.user,
            uploads=uploads,
            mounts=[
                docker.ContainerMountArgs(
                    type="volume", source=args.secrets_volume.volume_name, target=layout.secrets_dir
                ),
                docker.ContainerMountArgs(
                    type="volume", source=args.logs_volume.volume_name, target=layout.logs_dir
                ),
            ],
            ports=[
                docker.ContainerPortArgs(
                    internal=CONTAINER_WEB_PORT, external=settings.ports.http, protocol="tcp"
                ),
                docker.ContainerPortArgs(
                    internal=CONTAINER_WEBSECURE_PORT, external=settings.ports.https, protocol="tcp"
                ),
            ],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network) for network in networks],
            memory=settings.memory // 1024**2,
            memory_swap=settings.memory // 1024**2,  # equal to memory: no swap on top
            read_only=True,
            tmpfs={"/tmp": "rw,noexec,nosuid,nodev,size=16m"},
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=["NET_BIND_SERVICE"]),
            security_opts=["no-new-privileges:true"],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", "traefik", "healthcheck", f"--configFile={layout.config_file}"],
                interval=HEALTHCHECK_INTERVAL,
                timeout="5s",
                retries=3,
                start_period="10s",
            ),
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in self.labels(settings).items()],
            envs=[],
            restart="unless-stopped",
            must_run=True,
            destroy_grace_seconds=10,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.host.provider,
                depends_on=depends,
                # A fixed name and fixed host ports: the old container must go before the new one starts.
                delete_before_replace=True,
            ),
        )
        outputs: dict[str, object] = {
            "containerName": self.container.name,
            "imageReference": settings.image.reference,
            "urls": self.urls,
        }
        if self.ca_certificate is not None:
            outputs["devCaCertificate"] = self.ca_certificate
        self.register_outputs(outputs)

    @staticmethod
    def labels(settings: EdgeSettings) -> dict[str, str]:
        """Plain facts for reviewers and the policy pack."""
        return {
            ROLE_LABEL: "edge",
            "encrypted-platform.image": settings.image.reference,
            "encrypted-platform.tls.profile": settings.tls.profile,
            "encrypted-platform.tls.min-version": settings.tls.effective_min_version,
            "encrypted-platform.certificates.mode": settings.certificates.mode,
        }

    def _install_key(
        self, name: str, args: TraefikEdgeArgs, layout: TraefikLayout, key: pulumi.Input[str]
    ) -> SecretFile:
        relative = layout.private_key_file.removeprefix(layout.secrets_dir + "/")
        return SecretFile(
            f"{name}-tls-key",
            SecretFileArgs(
                host=args.host,
                volume=args.secrets_volume,
                path=relative,
                content=pulumi.Output.secret(key),
                owner=args.settings.user,
                mode=KEY_FILE_MODE,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _dev_pki(self, name: str, hosts: list[str]) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        child = pulumi.ResourceOptions(parent=self)
        stack = pulumi.get_stack()
        ca_key = tls.PrivateKey(f"{name}-dev-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        ca = tls.SelfSignedCert(
            f"{name}-dev-ca",
            private_key_pem=ca_key.private_key_pem,
            is_ca_certificate=True,
            validity_period_hours=DEV_CA_HOURS,
            early_renewal_hours=DEV_EARLY_RENEWAL_HOURS,
            allowed_uses=["cert_signing", "crl_signing"],
            subject=tls.SelfSignedCertSubjectArgs(
                common_name=f"{PROJECT} {stack} development CA", organization=PROJECT
            ),
            set_subject_key_id=True,
            opts=child,
        )
        leaf_key = tls.PrivateKey(f"{name}-dev-leaf-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        names = hosts or ["localhost"]
        request = tls.CertRequest(
            f"{name}-dev-csr",
            private_key_pem=leaf_key.private_key_pem,
            dns_names=names,
            subject=tls.CertRequestSubjectArgs(common_name=names[0], organization=PROJECT),
            opts=child,
        )
        leaf = tls.LocallySignedCert(
            f"{name}-dev-leaf",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca.cert_pem,
            validity_period_hours=DEV_LEAF_HOURS,
            early_renewal_hours=DEV_EARLY_RENEWAL_HOURS,
            allowed_uses=["digital_signature", "server_auth"],
            opts=child,
        )
        self.ca_certificate = ca.cert_pem
        return leaf.cert_pem, leaf_key.private_key_pem
