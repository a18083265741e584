"""The project's own stacks pass every mandatory policy: previews (values a provider computes
are unknown), updates (everything known), and with every input marked secret.

"dev" and "prod" are the committed stack configs, each the whole platform behind the Traefik edge.
Pulumi.prod.yaml ships its images as tags to be pinned (`make pin-images STACK=prod`): prod is
analysed as that command leaves it, every image pinned by a fixed fake digest
(tests/support/pinned_stack.py); as shipped, its preview stops before anything is registered.
"""

from __future__ import annotations

import copy
import re

import pytest

from components.settings import SettingsError
from tests.support.analyzer import CapturedStack, PolicyPackProcess, capture, evaluate, load_stack_config
from tests.support.pinned_stack import pinned_stack_config
from tests.support.program_runner import RealisticMocks, RecordingMonitor, run_program

pytestmark = pytest.mark.policy

SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-only\n-----END OPENSSH PRIVATE KEY-----"
STACKS = ["dev", "prod"]
_cache: dict[tuple[str, bool], CapturedStack] = {}


def own_stack(stack: str, preview: bool) -> CapturedStack:
    key = (stack, preview)
    if key not in _cache:
        config = pinned_stack_config(stack)
        secret = {"sshPrivateKey": SSH_KEY} if stack == "prod" else None
        _cache[key] = capture(config=config, secret_config=secret, stack=stack, preview=preview)
    return _cache[key]


@pytest.mark.parametrize("all_secret", [False, True], ids=["plain", "all-secret"])
@pytest.mark.parametrize("variant", ["preview", "update"])
@pytest.mark.parametrize("stack", STACKS)
def test_own_stack_has_no_mandatory_violation(
    pack: PolicyPackProcess, stack: str, variant: str, all_secret: bool
) -> None:
    captured = own_stack(stack, variant == "preview")
    verdict = evaluate(captured, all_secret=all_secret, pack=pack)
    assert not verdict.mandatory(), verdict.describe()
    assert not [d for d in verdict.diagnostics if "could not evaluate" in d.message], verdict.describe()


@pytest.mark.parametrize("stack", STACKS)
def test_own_stacks_are_what_the_rules_expect(stack: str) -> None:
    """Guards the test above against passing vacuously: LUKS commands, volumes bound into their
    mounts, workloads that mount them, and a Traefik edge that publishes 80/443; prod's images
    run by digest."""
    captured = own_stack(stack, True)
    types = [r.type for r in captured.resources]
    command = "command:remote:Command" if stack == "prod" else "command:local:Command"
    assert types.count("docker:index/volume:Volume") >= 5
    assert types.count(command) >= 5
    containers = [r for r in captured.resources if r.type == "docker:index/container:Container"]
    mounted = {
        m.get("source") for r in containers for m in r.inputs.get("mounts", []) if m.get("type") == "volume"
    }
    volumes = {r.inputs.get("name") for r in captured.resources if r.type == "docker:index/volume:Volume"}
    assert mounted and mounted <= volumes
    published = {p.get("external") for r in containers for p in r.inputs.get("ports", [])}
    assert published == {80, 443}
    if stack == "prod":
        images = [
            r.inputs.get("name")
            for r in captured.resources
            if r.type == "docker:index/remoteImage:RemoteImage"
        ]
        assert len(images) == 7 and all("@sha256:" in str(i) for i in images), images


def test_prod_as_shipped_stops_before_registering_anything() -> None:
    """Shipped prod (images as tags): the preview fails in settings parsing, naming every image
    key as `pulumi config set --path` spells it and the command that pins them; the pack never
    sees a resource of it."""
    config = load_stack_config("prod")
    monitor = RecordingMonitor(RealisticMocks())
    with pytest.raises(SettingsError) as caught:
        run_program(
            config=config,
            secret_config={"sshPrivateKey": SSH_KEY},
            stack="prod",
            preview=True,
            monitor=monitor,
        )
    assert monitor.registrations == []
    expected = [f"encrypted-platform:services.{name}.image" for name in config["services"]]
    expected.append("encrypted-platform:edge.image.digest")
    problems = caught.value.problems
    assert [p.split(": ", 1)[0] for p in problems] == expected
    assert all("make pin-images STACK=prod" in p for p in problems), problems


@pytest.mark.parametrize("stack", STACKS)
def test_the_pack_reads_the_edge_configuration_our_components_write(
    pack: PolicyPackProcess, stack: str
) -> None:
    """The edge's Traefik files reach the host through Commands (stdin). Weakening the rendered
    dynamic file in the captured stack must be caught: the pass above is not for lack of reading."""
    captured = copy.deepcopy(own_stack(stack, True))
    dynamic = [
        r
        for r in captured.resources
        if isinstance(r.inputs.get("stdin"), str) and "routers:" in r.inputs["stdin"]
    ]
    assert dynamic, "no command writes the edge's dynamic configuration"
    for r in dynamic:
        r.inputs["stdin"] = r.inputs["stdin"].replace("tls: {}", "tls: false").replace("31536000", "300")
    verdict = evaluate(captured, pack=pack)
    assert {"tls-only-routes", "security-headers"} <= verdict.policies("mandatory"), verdict.describe()


def test_the_pack_reads_the_backup_install_our_components_write(pack: PolicyPackProcess) -> None:
    """prod's backup install (its EP_BACKUP_* parameter block) is what the backup rules read: a
    plain-http repository there, a password in its environment and a stateful volume dropped from
    its list must each be caught. The clean pass above is not for lack of reading."""
    captured = copy.deepcopy(own_stack("prod", True))
    installs = [r for r in captured.resources if "EP_BACKUP_VOLUMES=" in str(r.inputs.get("create", ""))]
    assert installs, "prod has no backup install"
    for r in installs:
        for key in ("create", "update", "delete"):
            if isinstance(r.inputs.get(key), str):
                text = re.sub(r"sftp:[^'\"\s]+", "rest:http://backup.example.test:8000/ep", r.inputs[key])
                r.inputs[key] = re.sub(r"(EP_BACKUP_VOLUMES='\"'\"')app-db ", r"\1", text)
        r.inputs["environment"] = {"RESTIC_PASSWORD": "correct-horse-battery"}
    verdict = evaluate(captured, file_config={"backups-cover-stateful-volumes": "mandatory"}, pack=pack)
    expected = {"backup-repository-tls", "backup-password-secret", "backups-cover-stateful-volumes"}
    assert expected <= verdict.policies("mandatory"), verdict.describe()
    uncovered = [d.resource_name for d in verdict.by_policy("backups-cover-stateful-volumes")]
    assert uncovered == ["app-db"], verdict.describe()


@pytest.mark.parametrize("stack", STACKS)
def test_the_pack_reads_the_tang_binding_our_luks_programs_run(pack: PolicyPackProcess, stack: str) -> None:
    """Every LUKS program carries the Tang binding's clevis lines (prod binds with them). Keeping a
    copy of the binding's passphrase in a file, or binding with the old passphrase read from /tmp,
    must be caught: the clean pass above is not for lack of reading clevis."""
    captured = copy.deepcopy(own_stack(stack, True))
    programs = [r for r in captured.resources if "clevis luks bind" in str(r.inputs.get("create", ""))]
    assert programs, "no LUKS program binds with clevis"
    for r in programs:
        text = r.inputs["create"]
        assert text.count('clevis luks pass -d "$EP_SOURCE" -s "$1" |') == 1
        assert text.count(" -k - -d ") == 1
        text = text.replace(
            'clevis luks pass -d "$EP_SOURCE" -s "$1" |',
            'clevis luks pass -d "$EP_SOURCE" -s "$1" | tee /run/ep.key |',
        )
        r.inputs["create"] = text.replace(" -k - -d ", " -k /tmp/old.key -d ")
    verdict = evaluate(captured, pack=pack)
    subjects = {d.message.rsplit("[", 1)[-1].rstrip("]") for d in verdict.by_policy("luks-key-sources")}
    assert subjects == {"key-sink:pipe:tee", "key-source:/tmp/old.key"}, verdict.describe()
    flagged = {d.resource_name for d in verdict.by_policy("luks-key-sources")}
    assert flagged == {r.name for r in programs}, verdict.describe()
