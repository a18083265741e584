"""encrypted-platform: a Docker-based AI platform with encryption at rest and in transit.

The program is thin on purpose: settings are parsed and validated in components/settings (a bad
value stops `pulumi preview` with the key named), and components/platform.py composes the rest.
"""

import pulumi

from components.platform import Platform, defer_full_collections
from components.settings import load_secrets, load_settings

defer_full_collections()
settings = load_settings()
secrets = load_secrets(settings)
platform = Platform(
    "platform",
    settings,
    secrets,
    project=pulumi.get_project(),
    stack=pulumi.get_stack(),
)

pulumi.export("volumes", {name: v.volume_name for name, v in platform.volumes.items()})
pulumi.export("mountPoints", {name: v.mount_point for name, v in platform.volumes.items()})
pulumi.export("networks", {key: network.name for key, network in platform.networks.items()})
pulumi.export("services", sorted(platform.services))
if platform.edge is not None:
    pulumi.export("urls", platform.edge.urls)
    if platform.edge.ca_certificate is not None:
        # dev certificates: trust this CA to browse the dev stack (see README).
        pulumi.export("devCaCertificate", platform.edge.ca_certificate)
