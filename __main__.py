"""encrypted-platform: a Docker-based AI platform with encryption at rest and in transit.

The program is thin on purpose: settings are parsed and validated in components/settings (a bad
value stops `pulumi preview` with the key named), and components/platform.py composes the rest.
"""

import pulumi

from components.composition import volume_passphrases
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

# Plain values only (components/outputs.py): per volume its LUKS UUID, mapper, key version, mount
# point and unlock mode; per service its container, image and networks; routes to services; the
# certificate mode; the edge's URLs; where backups go. Secrets stay in the state and out of these
# outputs (the escrows below, of the volume passphrases and the backup password, are secret
# outputs of their own).
for name, value in platform.outputs.items():
    pulumi.export(name, value)
# What each image's tag resolved to when the host pulled it (known after an update; in prod it
# is the pinned digest).
pulled = {name: image.repo_digest for name, image in platform.images().items()}
pulumi.export("pulledImages", pulled)
if platform.edge is not None and platform.edge.ca_certificate is not None:
    # dev certificates: trust this CA to browse the dev stack (see README).
    pulumi.export("devCaCertificate", platform.edge.ca_certificate)
# The escrow of each volume's current passphrase, for when no program can open it (a manual
# unlock, a header restore): `make recover-passphrase STACK=... VOLUME=...`
# (scripts/recover_passphrase.py).
pulumi.export("volumePassphrases", volume_passphrases(platform.volumes))
if platform.backups is not None:
    # The escrow of the backup repository's password, for when the host is lost:
    #   pulumi stack output --show-secrets backupRepositoryPassword
    pulumi.export("backupRepositoryPassword", platform.backups.repository_password)
