"""The encrypted-platform CrossGuard pack.

The engine starts this file (`python -m pulumi.policy <engine> .` in this directory); the
PolicyPack constructor serves the Analyzer gRPC protocol on 127.0.0.1 and prints its port.
Rules live in rules/ (one module each); shared facts about the stack in analysis/.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
# The project root, for platform_rules only: the stdlib-only rules the settings share with the
# pack (one table, two readers). Appended, so the pack's own packages win; the pack never
# imports components (a contract, not a path restriction).
PROJECT_ROOT = os.path.dirname(HERE)
if PROJECT_ROOT not in sys.path:
    sys.path.append(PROJECT_ROOT)

from analysis import servicer_hooks  # noqa: E402
from analysis.policies import to_policy  # noqa: E402
from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402
from rules import RULES  # noqa: E402

servicer_hooks.install()

PolicyPack(
    name="encrypted-platform",
    description=(
        "Encryption at rest and in transit for the encrypted-platform stacks: data only on LUKS2 volumes, "
        "TLS-only routes through the Traefik edge, isolated networks, hardened containers."
    ),
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[to_policy(rule) for rule in RULES],
)
