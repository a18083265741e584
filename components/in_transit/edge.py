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
            secrets_volume=volumes["config-secrets"],    # configuration, acme.json, TLS key
            logs_volume=volumes["logs"],                 # traefik.log, traefik-access.log (JSON)
            tls_private_key=secrets.edge_tls_private_key,  # secret; custom mode only
        ),
        opts=pulumi.ResourceOptions(parent=self),
    )
    edge.container        # docker.Container (label encrypted-platform.role=edge)
    edge.config_files     # {path in the container: VolumeFile} (plain content, reviewable)
    edge.ca_certificate   # Output[str] | None: the dev CA; export it (devCaCertificate) to trust it
    edge.urls             # ["https://<host>", ...]

How the configuration reaches Traefik, and why:
- The static and dynamic configuration are rendered by components/in_transit/traefik_config.py from the
  settings (pure functions). Each file is a VolumeFile: a host Command whose stdin is the file's
  content as a plain value (known at preview, so reviewers and the policy pack read it), written
  onto the encrypted secrets volume under `edge-config/`. A docker.Volume binds that directory
  read-only at /etc/traefik. (Docker refuses container `uploads` into a read-only root
  filesystem, and the root filesystem stays read-only.) The container's label
  `encrypted-platform.config-sha256` is a digest of those files, so a changed file replaces the
  container, which then reads it.
- Private keys never enter an image layer or the container definition: the custom/dev key is a
  SecretFile (host Command, key on secret stdin) in `edge-tls/`, a root-owned directory bound
  read-only over /var/lib/traefik/tls: root writes the key where the edge cannot plant a symlink.
  ACME keys are written by Traefik itself into `edge-state/acme.json` (0600); `edge-state/` (the
  edge's only writable state) is bound read-write at /var/lib/traefik, the logs volume's `edge/`
  at /var/log/traefik. All of them sit in the volumes' root-owned binds directories (see
  `subdirectory_volume`): the edge sees only its own directories of those shared volumes.
- The container: docker.RemoteImage of the pinned reference (tag, plus digest in prod),
  `traefik --configFile=/etc/traefik/traefik.yml`, read-only root filesystem, capabilities
  dropped but NET_BIND_SERVICE, no-new-privileges, memory limit without swap, healthcheck via
  ping, published ports 80/443 only (on the ingress network, its `network_mode`: Docker binds
  published ports only there), no environment, no Docker socket.
- dev mode: a local CA and a leaf for every routed host (pulumi-tls, ECDSA P-256).

Bad settings raise SettingsError while the program runs, i.e. at preview, before any change.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pulumi
import pulumi_docker as docker
import pulumi_tls as tls

from components.at_rest.encrypted_volume import EncryptedVolume
from components.at_rest.secret_file import (
    SecretFile,
    SecretFileArgs,
    VolumeDirectory,
    VolumeDirectoryArgs,
    VolumeFile,
    VolumeFileArgs,
    subdirectory_volume,
)
from components.host import (
    CONTAINER_REPLACE_ON_CHANGES,
    DockerHost,
    container_capabilities,
    pids_limit_command,
)
from components.in_transit.traefik_config import (
    CONTAINER_WEB_PORT,
    CONTAINER_WEBSECURE_PORT,
    TraefikLayout,
    render_files,
)
from components.settings import PROJECT, SettingsError
from components.settings.edge import EdgeSettings
from components.settings.edge_tls import chain_warnings
from components.settings.keys import NAME_PREFIX

ROLE_LABEL = "encrypted-platform.role"
CONFIG_DIGEST_LABEL = "encrypted-platform.config-sha256"
EDGE_DIRECTORY_LABEL = "encrypted-platform.edge-directory"
CONTAINER_PREFIX = NAME_PREFIX
# Directories of the edge on the shared volumes (each bound on its own; see module docstring).
CONFIG_DIRECTORY = "edge-config"  # on the secrets volume, read-only in the container
STATE_DIRECTORY = "edge-state"  # on the secrets volume: acme.json (the edge writes here)
KEY_DIRECTORY = "edge-tls"  # on the secrets volume: edge.key, root-owned, read-only in the container
KEY_DIRECTORY_OWNER, KEY_DIRECTORY_MODE = "0:0", "0755"
LOGS_DIRECTORY = "edge"  # on the logs volume
CONFIG_FILE_MODE, CONFIG_DIR_MODE = "0444", "0755"
PRIVATE_DIR_MODE, KEY_FILE_MODE = "0700", "0400"
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
    return replace(args.layout, backend_hosts=dict(args.backend_hosts))


def validate(args: TraefikEdgeArgs) -> list[str]:
    """Every problem with the arguments, as `pulumi config` key paths (empty when fine). The
    settings themselves were checked (cross-key and prod checks included) while parsing."""
    settings = args.settings
    problems: list[str] = []
    if settings.certificates.mode == "custom" and args.tls_private_key is None:
        problems.append(
            f"{PROJECT}:edgeTlsPrivateKey: required when edge.certificates.mode is 'custom' "
            "(pulumi config set --secret edgeTlsPrivateKey < key.pem)"
        )
    return problems


def config_digest(files: Mapping[str, str | None]) -> str:
    """sha256 over the configuration files (path and content), in path order. A content of None
    (what the SDK's mock runtime gives for an output its mocks do not compute) counts as empty."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + (files[path] or "").encode() + b"\0")
    return digest.hexdigest()


def relative_to(directory: str, path: str) -> str:
    if not path.startswith(directory + "/"):
        raise ValueError(f"{path} is not inside {directory}")
    return path[len(directory) + 1 :]


class TraefikEdge(pulumi.ComponentResource):
    container: docker.Container
    config_files: dict[str, VolumeFile]
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
        self.layout = layout
        self.urls = [f"https://{host}" for host in settings.hosts]
        self.ca_certificate = None

        # Configuration: rendered files (plain), plus the public certificate in custom/dev mode.
        files: dict[str, pulumi.Input[str]] = dict(render_files(settings, layout))
        state: list[pulumi.Resource] = [
            self._directory(f"{name}-state-dir", args, args.secrets_volume, STATE_DIRECTORY)
        ]
        key_file: SecretFile | None = None
        mode = settings.certificates.mode
        if mode == "custom":
            assert settings.certificates.chain is not None and args.tls_private_key is not None
            files[layout.certificate_file] = settings.certificates.chain
            key_file = self._install_key(name, args, layout, args.tls_private_key)
        elif mode == "dev":
            certificate, key = self._dev_pki(name, settings.hosts)
            files[layout.certificate_file] = certificate
            key_file = self._install_key(name, args, layout, key)
        self.config_files = {
            path: VolumeFile(
                f"{name}-config-{relative_to(layout.config_dir, path).replace('/', '-').replace('.', '-')}",
                VolumeFileArgs(
                    host=args.host,
                    volume=args.secrets_volume,
                    path=f"{CONFIG_DIRECTORY}/{relative_to(layout.config_dir, path)}",
                    content=content,
                    mode=CONFIG_FILE_MODE,
                    dir_mode=CONFIG_DIR_MODE,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for path, content in sorted(files.items())
        }
        logs = self._directory(f"{name}-logs-dir", args, args.logs_volume, LOGS_DIRECTORY)
        config_volume = self._bind(
            f"{name}-config", args, args.secrets_volume, CONFIG_DIRECTORY, list(self.config_files.values())
        )
        state_volume = self._bind(f"{name}-state", args, args.secrets_volume, STATE_DIRECTORY, state)
        logs_volume = self._bind(f"{name}-logs", args, args.logs_volume, LOGS_DIRECTORY, [logs])
        key_mounts: list[docker.ContainerMountArgs] = []
        binds = [config_volume, state_volume, logs_volume]
        if key_file is not None:
            key_volume = self._bind(f"{name}-tls", args, args.secrets_volume, KEY_DIRECTORY, [key_file])
            key_mounts.append(
                docker.ContainerMountArgs(
                    type="volume",
                    source=key_volume.name,
                    target=posixpath.dirname(layout.private_key_file),
                    read_only=True,
                )
            )
            binds.append(key_volume)
        digest = pulumi.Output.all(*[files[p] for p in sorted(files)]).apply(
            lambda contents: config_digest(dict(zip(sorted(files), contents, strict=True)))
        )

        self.image = docker.RemoteImage(
            f"{name}-image",
            name=settings.image.reference,
            keep_locally=True,
            opts=pulumi.ResourceOptions(parent=self, provider=args.host.provider),
        )
        labels: dict[str, pulumi.Input[str]] = {**self.labels(settings), CONFIG_DIGEST_LABEL: digest}
        container_name = f"{CONTAINER_PREFIX}-{name}"
        self.container = docker.Container(
            name,
            name=container_name,
            image=self.image.image_id,
            command=["traefik", f"--configFile={layout.config_file}"],
            user=settings.user,
            mounts=[
                docker.ContainerMountArgs(
                    type="volume", source=config_volume.name, target=layout.config_dir, read_only=True
                ),
                docker.ContainerMountArgs(type="volume", source=state_volume.name, target=layout.secrets_dir),
                docker.ContainerMountArgs(type="volume", source=logs_volume.name, target=layout.logs_dir),
                *key_mounts,
            ],
            ports=[
                docker.ContainerPortArgs(
                    internal=CONTAINER_WEB_PORT, external=settings.ports.http, protocol="tcp"
                ),
                docker.ContainerPortArgs(
                    internal=CONTAINER_WEBSECURE_PORT, external=settings.ports.https, protocol="tcp"
                ),
            ],
            # Docker publishes ports only on the network the container is created on (network_mode);
            # the internal networks are joined after creation.
            network_mode=args.ingress_network,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=network) for network in args.networks
            ],
            memory=settings.memory // 1024**2,
            memory_swap=args.host.memory_swap(settings.memory // 1024**2),  # no swap on top
            read_only=True,
            tmpfs={"/tmp": "rw,noexec,nosuid,nodev,size=16m"},
            capabilities=container_capabilities(adds=["NET_BIND_SERVICE"]),
            security_opts=["no-new-privileges:true"],
            healthcheck=docker.ContainerHealthcheckArgs(
                tests=["CMD", "traefik", "healthcheck", f"--configFile={layout.config_file}"],
                interval=HEALTHCHECK_INTERVAL,
                timeout="5s",
                retries=3,
                start_period="10s",
            ),
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in labels.items()],
            envs=[],
            restart="unless-stopped",
            must_run=True,
            destroy_grace_seconds=10,
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.host.provider,
                depends_on=[self.image, *binds],
                # A fixed name and fixed host ports: the old container must go before the new one starts.
                delete_before_replace=True,
                replace_on_changes=CONTAINER_REPLACE_ON_CHANGES,
            ),
        )
        self.pids_limit = args.host.run(
            f"{name}-pids-limit",
            create=pids_limit_command(args.host, container_name, settings.pids),
            triggers=[self.container.id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.container]),
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

    def _directory(
        self, name: str, args: TraefikEdgeArgs, volume: EncryptedVolume, path: str
    ) -> VolumeDirectory:
        return VolumeDirectory(
            name,
            VolumeDirectoryArgs(
                host=args.host, volume=volume, path=path, owner=args.settings.user, mode=PRIVATE_DIR_MODE
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _bind(
        self,
        name: str,
        args: TraefikEdgeArgs,
        volume: EncryptedVolume,
        path: str,
        writers: Sequence[pulumi.Resource],
    ) -> docker.Volume:
        return subdirectory_volume(
            name,
            host=args.host,
            volume=volume,
            path=path,
            labels={EDGE_DIRECTORY_LABEL: path},
            depends_on=writers,
            parent=self,
        )

    def _install_key(
        self, name: str, args: TraefikEdgeArgs, layout: TraefikLayout, key: pulumi.Input[str]
    ) -> SecretFile:
        return SecretFile(
            f"{name}-tls-key",
            SecretFileArgs(
                host=args.host,
                volume=args.secrets_volume,
                path=f"{KEY_DIRECTORY}/{posixpath.basename(layout.private_key_file)}",
                content=pulumi.Output.secret(key),
                owner=args.settings.user,
                mode=KEY_FILE_MODE,
                dir_owner=KEY_DIRECTORY_OWNER,
                dir_mode=KEY_DIRECTORY_MODE,
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
