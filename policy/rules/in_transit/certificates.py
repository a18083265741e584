"""Certificates.

- In a production stack, every ACME resolver uses a production directory (Let's Encrypt's by
  default, never a staging one) or a configured internal CA. In every stack, an ACME directory
  is https.
- No certificate the stack deploys (uploaded files, Swarm configs and secrets, Traefik inline
  certificates, files a host command writes from stdin) is expired or not yet valid. An
  uploaded certificate unknown at preview passes only when it comes from a certificate
  generator of this stack (tls.SelfSignedCert / LocallySignedCert: fresh by construction).

Production as analysis/production.py reads it (the stack's `environment` config or name, or this
policy's `environment` set to "prod"; fail closed when the engine sends neither).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from analysis.production import CONFIG as PRODUCTION_CONFIG
from analysis.production import is_production
from analysis.rule import Context, Finding, Rule, unknown_finding
from analysis.stack import CERTIFICATE_GENERATORS, COMMANDS, DOCKER_SECRET, SERVICE_CONFIG
from analysis.traefik import TraefikFacts, get
from analysis.values import is_unknown, iter_strings
from analysis.workloads import workloads_of

NAME = "certificates"
PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s+([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----")
CERT_NAME = re.compile(r"[\w./-]+\.(?:crt|pem|cer|cert)\b")
CERT_FILE = re.compile(r"(\.(crt|pem|cer|cert)$)|(/certs?/)", re.I)
LETS_ENCRYPT_STAGING = "acme-staging"


def _certificates(text: str) -> Iterator[tuple[dt.datetime, dt.datetime, str]]:
    if "BEGIN CERTIFICATE" not in text:
        return
    from cryptography import x509

    for m in PEM_CERT.finditer(text):
        pem = f"-----BEGIN CERTIFICATE-----\n{m.group(1).strip()}\n-----END CERTIFICATE-----\n".encode()
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            continue
        subject = cert.subject.rfc4514_string() or "(no subject)"
        yield cert.not_valid_before_utc, cert.not_valid_after_utc, subject


def _b64(data: str) -> str:
    import base64
    import binascii

    try:
        return base64.b64decode(data).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def check(ctx: Context) -> Iterator[Finding]:
    model = ctx.model
    assert model is not None
    production, why = is_production(model.info, dict(ctx.config))
    allowed = list(ctx.config["acmeProductionDirectories"]) + list(ctx.config["internalAcmeDirectories"])
    for static in model.fact(TraefikFacts.of).statics:
        resolvers = get(static.tree, "certificatesresolvers")
        if not isinstance(resolvers, dict):
            continue
        for name, conf in resolvers.items():
            src = static.source_of("certificatesresolvers", name)
            if src is None:
                continue
            acme = get(conf, "acme")
            if not isinstance(acme, dict):
                continue
            server = get(acme, "caserver")
            if server is None:
                continue  # Traefik's default: Let's Encrypt production
            server = str(server)
            if not server.lower().startswith("https://"):
                yield Finding(
                    src.resource,
                    src.field,
                    f"ACME resolver '{name}' talks to {server} without TLS",
                    "use the https:// directory URL",
                    f"acme:{name}",
                )
                continue
            if production and server not in allowed:
                kind = (
                    "a staging directory"
                    if LETS_ENCRYPT_STAGING in server
                    else "a directory that is not configured"
                )
                yield Finding(
                    src.resource,
                    src.field,
                    f"ACME resolver '{name}' uses {kind} ({server}) in a production "
                    f"stack ({why}); its certificates are not trusted by browsers",
                    "remove caServer (Let's Encrypt production) or set one of acmeProductionDirectories / "
                    "internalAcmeDirectories of this policy",
                    f"acme:{name}",
                )
    now = dt.datetime.now(dt.UTC)
    for r in model.resources:
        strings = list(iter_strings(r.props))
        if r.type in (SERVICE_CONFIG, DOCKER_SECRET) and isinstance(r.props.get("data"), str):
            strings.append((("data (base64-decoded)",), _b64(r.props["data"])))
        for path, value in strings:
            for not_before, not_after, subject in _certificates(value):
                field = ".".join(str(p) for p in path)
                if not_after < now:
                    yield Finding(
                        r,
                        field,
                        f"deploys the certificate {subject}, which expired on {not_after:%Y-%m-%d}",
                        "renew it (or let ACME issue one)",
                        f"certificate:{subject}",
                    )
                elif not_before > now:
                    yield Finding(
                        r,
                        field,
                        f"deploys the certificate {subject}, which is not valid before {not_before:%Y-%m-%d}",
                        "fix the certificate's validity period",
                        f"certificate:{subject}",
                    )
    for w in model.fact(workloads_of):
        for up in w.uploads:
            if not is_unknown(up.content):
                continue
            upload_path = up.path if isinstance(up.path, str) else ""
            if upload_path and not CERT_FILE.search(upload_path):
                continue
            sources = model.property_sources(w.resource, up.prop_key)
            if sources and all(
                s.type in CERTIFICATE_GENERATORS or s.type.startswith("tls:") for s in sources
            ):
                continue  # a freshly generated certificate cannot be expired
            yield unknown_finding(
                w.resource, up.field, "that the uploaded certificate is valid", f"certificate:{path}"
            )
    # Certificates a host Command writes from stdin onto a volume a workload mounts.
    workload_resources = [w.resource for w in model.fact(workloads_of)]
    for cmd in model.of_type(*COMMANDS):
        stdin = cmd.props.get("stdin")
        program = cmd.props.get("create")
        if not is_unknown(stdin) or not isinstance(program, str):
            continue
        m = CERT_NAME.search(program)
        if m is None or not any(model.depends_on(w, cmd.urn) for w in workload_resources):
            continue
        sources = model.property_sources(cmd, "stdin")
        if sources and all(s.type.startswith("tls:") for s in sources):
            continue  # generated by this stack: fresh
        yield unknown_finding(
            cmd,
            "stdin",
            f"that the certificate it writes ({m.group(0)}) is valid",
            f"certificate:{m.group(0)}",
        )


RULE = Rule(
    name=NAME,
    description=(
        "Certificates: production stacks use a production ACME directory or a configured internal CA; no "
        "deployed certificate is expired."
    ),
    enforcement="mandatory",
    scope="stack",
    check=check,
    config={
        **PRODUCTION_CONFIG,
        "acmeProductionDirectories": {
            "type": "array",
            "items": {"type": "string"},
            "description": "ACME directories trusted for production.",
            "default": ["https://acme-v02.api.letsencrypt.org/directory"],
        },
        "internalAcmeDirectories": {
            "type": "array",
            "items": {"type": "string"},
            "description": "ACME directories of an internal CA whose root the clients trust.",
            "default": [],
        },
    },
)
