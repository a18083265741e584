"""Hostile parameter values reach the root programs as plain data, never as code.

The settings refuse such characters in paths; these tests bypass the settings on purpose (the
specs are edited after validation) and run the real programs as root, in a private mount
namespace, with every path holding quotes, `$(...)`, backquotes, spaces, tabs, newlines or glob
characters. Each value would create a file named PWNED in the working directory if any program
re-parsed it as shell code; none may appear, anywhere under the test's directory."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from components.at_rest.luks_scripts import unlock_helper_text
from components.at_rest.secret_file import VolumeFileSpec, render_program
from tests.support.luks_lab import delete, ensure, luks_dump, make_spec, reencrypt, run_isolated, steps

KEY = "k1" + "H" * 62
SECRET = "-----BEGIN PRIVATE KEY-----\nhostile-values-test-only\n-----END PRIVATE KEY-----\n"
MARKER = "PWNED"

# One directory name each; each spells an injected command that would create MARKER.
HOSTILE_NAMES = {
    "single-quote": f"x'$(touch {MARKER})'",
    "double-quote": f'x"$(touch {MARKER})"',
    "backquote": f"x`touch {MARKER}`",
    "semicolon": f"';touch {MARKER};'",
    "backslash": f"x\\'$(touch {MARKER})\\'",
    "spaces-tabs": f"a b\tc $(touch {MARKER})",
    "newline": f"line\n$(touch {MARKER})\n",
    "glob": "*?[a]",
}


def markers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name == MARKER]


def hostile_luks_spec(tmp_path: Path, name: str, **extra: object):
    base = make_spec(root=tmp_path / "plain")
    root = f"{tmp_path}/{name}"
    return replace(
        base,
        source=f"{root}/state/volumes/app-db.img",
        mount=f"{root}/encrypted/app-db",
        data_dir=f"{root}/encrypted/app-db/data",
        keys_dir=f"{root}/keys",
        header_backup_dir=f"{root}/backups",
        **extra,
    )


@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
def test_luks_programs_take_hostile_paths_as_data(tmp_path: Path, name: str) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    spec = hostile_luks_spec(tmp_path, name, destroy_data=True)

    created = run_isolated(ensure(spec), work, stdin=KEY + "\n")
    # This host has no device-mapper: the program stops at `cryptsetup open`, after it created
    # the image, formatted it, proved the key and wrote the boot keyfile, all at hostile paths.
    assert created.returncode != 0
    assert "device-mapper" in created.stderr, created.stderr
    assert Path(spec.source).is_file()
    assert spec.uuid in luks_dump(spec.source)
    keyfile = Path(spec.keys_dir) / "app-db.key"
    assert keyfile.read_text() == KEY
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o400

    again = run_isolated(reencrypt(spec), work, stdin=KEY + "\n")
    assert again.returncode != 0 and "device-mapper" in again.stderr, again.stderr

    destroyed = run_isolated(delete(spec), work)
    assert destroyed.returncode == 0, destroyed.stderr
    assert not Path(spec.source).exists() and not keyfile.exists()
    assert markers(tmp_path) == [], "a hostile value ran as a command"


@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
def test_boot_table_lines_refuse_values_that_would_inject_fields(tmp_path: Path, name: str) -> None:
    """crypttab/fstab fields are separated by whitespace: a path holding whitespace, '#' or a
    backslash is refused before either table is written; other hostile characters are data."""
    work = tmp_path / "cwd"
    work.mkdir()
    spec = hostile_luks_spec(tmp_path, name)
    body = """
ep_read_keys
ep_boot_setup
cat /etc/crypttab /etc/fstab
"""
    result = run_isolated(steps(spec, body), work, stdin=KEY + "\n")
    fields_break = any(c in name for c in " \t\n#\\")
    if fields_break:
        assert result.returncode != 0
        assert "refusing to write" in result.stderr, result.stderr
        assert not (Path(spec.keys_dir) / "app-db.key").exists()
    else:
        assert result.returncode == 0, result.stderr
        assert f"{spec.mapper} {spec.source} {spec.keys_dir}/app-db.key luks,nofail" in result.stdout
        assert f"{spec.mapper_path} {spec.mount} ext4 defaults,nodev,nosuid,nofail 0 2" in result.stdout
    assert markers(tmp_path) == []


def test_unlock_helper_takes_hostile_table_entries_as_data(tmp_path: Path) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    crypttab, fstab = tmp_path / "crypttab", tmp_path / "fstab"
    names = [n for n in HOSTILE_NAMES.values() if not any(c in n for c in " \t\n")]
    crypttab.write_text(
        "".join(f"ep-{i}{n} {tmp_path}/{n}.img {tmp_path}/{n}.key luks,nofail\n" for i, n in enumerate(names))
    )
    fstab.write_text(
        "".join(
            f"/dev/mapper/ep-{i}{n} {tmp_path}/{n} ext4 defaults,nodev,nosuid,nofail 0 2\n"
            for i, n in enumerate(names)
        )
    )
    helper = tmp_path / "encrypted-platform-unlock"
    helper.write_text(unlock_helper_text())
    result = subprocess.run(
        ["bash", str(helper)],
        cwd=work,
        env={**os.environ, "EP_CRYPTTAB": str(crypttab), "EP_FSTAB": str(fstab)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert result.returncode == 1, result.stderr  # nothing opens here, each entry is reported
        assert result.stderr.count("could not open") == len(names), result.stderr
        assert markers(tmp_path) == []
    finally:
        for i, n in enumerate(names):
            Path(f"/run/encrypted-platform/locks/ep-{i}{n}.lock").unlink(missing_ok=True)


def hostile_file_spec(tmp_path: Path, name: str, **overrides: object) -> VolumeFileSpec:
    mount = f"{tmp_path}/{name}/mnt"
    values: dict[str, object] = {
        "name": "edge-tls-key",
        "mount": mount,
        "mapper": "ep-config-secrets",
        "base_dir": f"{mount}/binds",
        "relative_path": "edge-tls/edge.key",
        "owner": "65532:65532",
        "mode": "0400",
        "dir_owner": "0:0",
        "dir_mode": "0755",
    }
    values.update(overrides)
    return VolumeFileSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
def test_file_programs_take_hostile_paths_as_data(tmp_path: Path, name: str) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    spec = hostile_file_spec(tmp_path, name)
    directory = hostile_file_spec(
        tmp_path, name, relative_path="edge-state", mode="0700", dir_mode="0700", dir_owner=None
    )
    Path(spec.mount).mkdir(parents=True)
    programs = {
        "install": render_program("install", spec),
        "ensure": render_program("ensure_directory", directory),
        "remove": render_program("remove", spec),
    }
    for program, text in programs.items():
        (tmp_path / f"{program}.sh").write_text(text)
    q = shlex.quote
    seen = tmp_path / "seen"
    scenario = "\n".join(
        [
            f"mount -t tmpfs -o size=4m /dev/mapper/{spec.mapper} {q(spec.mount)}",
            # The empty-stdin failure is where an EXIT trap re-parsing the path would fire.
            f"! bash {q(str(tmp_path / 'install.sh'))} </dev/null",
            f"printf %s {q(SECRET)} | bash {q(str(tmp_path / 'install.sh'))}",
            f"bash {q(str(tmp_path / 'ensure.sh'))}",
            f"mkdir -p {q(str(seen))} && cp -a {q(spec.mount)}/. {q(str(seen))}/",
            f"bash {q(str(tmp_path / 'remove.sh'))}",
            f"test ! -e {q(spec.host_path)}",
        ]
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-ec", scenario],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "no content on stdin" in result.stderr
    key = seen / "binds" / "edge-tls" / "edge.key"
    assert key.read_text() == SECRET
    assert (key.stat().st_uid, stat.S_IMODE(key.stat().st_mode)) == (65532, 0o400)
    assert [p.name for p in key.parent.iterdir()] == ["edge.key"]  # no temporary file left
    assert (seen / "binds" / "edge-state").stat().st_uid == 65532
    assert markers(tmp_path) == [], "a hostile value ran as a command"


@pytest.mark.parametrize(
    "name", ["a b", "tab\there", "new\nline", "back\\slash"], ids=["space", "tab", "newline", "backslash"]
)
def test_mount_points_are_recognised_whatever_characters_they_hold(tmp_path: Path, name: str) -> None:
    """/proc/self/mountinfo escapes these characters: the idempotency checks compare the escaped
    spelling, so a mounted volume is seen as mounted (and not mounted twice)."""
    work = tmp_path / "cwd"
    work.mkdir()
    spec = replace(make_spec(root=tmp_path / "plain"), mount=f"{tmp_path}/{name}/mnt")
    Path(spec.mount).mkdir(parents=True)
    body = 'if ep_path_is_mountpoint "$EP_MOUNT"; then echo mounted; else echo not-mounted; fi\n'
    result = run_isolated(steps(spec, body), work, setup=f"mount -t tmpfs none {shlex.quote(spec.mount)}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mounted"
