"""The pack's model of how Traefik loads its configuration (analysis.traefik) and of which files a
container sees (analysis.container_files). The rules built on them (tls-only-routes,
traefik-providers-visible, websocket-routes-guarded) are tested in tests/policy/rules/in_transit/."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.policy


def _traefik() -> Any:
    import analysis.traefik as traefik

    return traefik


def _resource(create: str, stdin: Any = None) -> Any:
    from analysis.stack import resource_from_json

    props: dict[str, Any] = {"create": create}
    if stdin is not None:
        props["stdin"] = stdin
    return resource_from_json(
        urn="urn:pulumi:dev::p::command:local:Command::c",
        type_="command:local:Command",
        name="c",
        properties=props,
    )


def _writes(create: str, stdin: Any = None) -> list[tuple[str, Any, bool]]:
    from analysis.container_files import command_writes
    from analysis.values import is_unknown

    out = []
    for w in command_writes(_resource(create, stdin)):
        out += [(f.path, "?" if is_unknown(f.content) else f.content, f.tree) for f in w.files]
    return out


@pytest.mark.parametrize(
    ("argv", "args"),
    [
        ([], []),  # the image's default command
        (["traefik"], []),
        (["traefik", "--configFile=/c.yml"], ["--configFile=/c.yml"]),
        (["--log.level=INFO"], ["--log.level=INFO"]),  # the entrypoint script prepends traefik
        (["/entrypoint.sh", "traefik", "traefik", "--x=1"], ["--x=1"]),
        (["/usr/local/bin/traefik", "--x=1"], ["--x=1"]),
        (["sh", "-c", "traefik --x=1"], None),
        (["caddy", "run"], None),
    ],
)
def test_what_traefik_parses_from_a_command(argv: list[str], args: list[str] | None) -> None:
    assert _traefik().traefik_arguments(argv) == args


def test_flags_are_parsed_as_paerser_does() -> None:
    t = _traefik()
    pairs = t.flag_pairs(["--api.insecure", "--log.level", "INFO", "-x=1", "positional", "--after=ignored"])
    assert pairs == [("api.insecure", "true"), ("log.level", "INFO"), ("x", "1")]
    # The file loader looks the flag up as configFile or configfile, spelled as first given.
    assert t.config_file_flag(t.flag_pairs(["--configFile=/a.yml"])) == "/a.yml"
    assert t.config_file_flag(t.flag_pairs(["--configfile", "/b.toml"])) == "/b.toml"
    assert t.config_file_flag(t.flag_pairs(["--configFile=/a.yml", "--configfile=/c.yml"])) == "/c.yml"
    assert t.config_file_flag(t.flag_pairs(["--ConfigFile=/a.yml"])) == ""


def test_default_locations_in_traefiks_order() -> None:
    candidates = _traefik().config_file_candidates("/given.yml")
    assert candidates[:4] == [
        "/given.yml",
        "/etc/traefik/traefik.toml",
        "/etc/traefik/traefik.yaml",
        "/etc/traefik/traefik.yml",
    ]
    assert candidates[-3:] == ["./traefik.toml", "./traefik.yaml", "./traefik.yml"]
    assert len(candidates) == 1 + 4 * 3
    assert _traefik().config_file_candidates("  ")[0] == "/etc/traefik/traefik.toml"


def test_environment_expansion_of_candidate_paths() -> None:
    from analysis.values import UNKNOWN

    t = _traefik()
    assert t.expand_env("$XDG_CONFIG_HOME/traefik.yml", {}, "/root") == "/traefik.yml"
    assert t.expand_env("$HOME/.config/traefik.yml", {}, "/root") == "/root/.config/traefik.yml"
    assert t.expand_env("${CONF}/t.yml", {"CONF": "/etc/x"}, "/") == "/etc/x/t.yml"
    assert t.expand_env("$HOME/t.yml", UNKNOWN, "/root") is None
    assert t.expand_env("/plain.yml", UNKNOWN, "/root") == "/plain.yml"


@pytest.mark.parametrize(
    ("create", "stdin", "expected"),
    [
        ("cat > /srv/c/a.yml", "x: 1\n", [("/srv/c/a.yml", "x: 1\n", False)]),
        ("tee /srv/c/a.yml >/dev/null", "one line", [("/srv/c/a.yml", "one line", False)]),
        ("install -D -m 0644 /dev/stdin /srv/c/a.yml", "y", [("/srv/c/a.yml", "y", False)]),
        ("cp /dev/stdin /srv/c/a.yml", "y", [("/srv/c/a.yml", "y", False)]),
        ("dd of=/srv/c/a.yml status=none", "y", [("/srv/c/a.yml", "y", False)]),
        (
            "cat > /srv/c/a.yml <<'EOF'\nk: `v` $HOME\nEOF\n",
            None,
            [("/srv/c/a.yml", "k: `v` $HOME\n", False)],
        ),
        ("cat > /srv/c/a.yml <<EOF\nk: $HOME\nEOF\n", None, [("/srv/c/a.yml", "?", False)]),
        ("printf '%s\\n' 'a: `b`' > /srv/c/a.yml", None, [("/srv/c/a.yml", "a: `b`\n", False)]),
        ('printf "$(cat /etc/x)" > /srv/c/a.yml', None, [("/srv/c/a.yml", "?", False)]),
        ('D=/srv/c\ncurl -fsS -o "$D/a.yml" https://x.test/a', None, [("/srv/c/a.yml", "?", False)]),
        ("wget -O /srv/c/a.yml https://x.test/a", None, [("/srv/c/a.yml", "?", False)]),
        ("cp -r /opt/r/. /srv/c/", None, [("/srv/c", "?", True)]),
        ("tar -xf /opt/r.tar -C /srv/c", None, [("/opt/r.tar", "?", True), ("/srv/c", "?", True)]),
        ("mount --bind /tmp/x /srv/c", None, [("/tmp/x", "?", True), ("/srv/c", "?", True)]),
        ("echo hi > /srv/c/$NAME.yml", None, [("/srv/c", "?", True)]),
        ("bash -c 'cat > /srv/c/a.yml'", "z", [("/srv/c/a.yml", "z", False)]),
        ('w() { cat > "$1"; }\nw /srv/c/a.yml', "q", [("/srv/c/a.yml", "q", False)]),
        ("curl -fsS https://x.test/health", None, []),
        ("mkdir -p /srv/c && chmod 0755 /srv/c", None, []),
        ("mount -o nodev /dev/mapper/m /srv/c", None, []),
        # A quote in a comment opens nothing: the variable after it still expands.
        ('# the operator\'s file\nD=/srv/c\ncat > "$D/a.yml"', "w", [("/srv/c/a.yml", "w", False)]),
        ('D=/srv/c # it\'s here\ncat > "$D/a.yml"', "w", [("/srv/c/a.yml", "w", False)]),
        # A substitution that only prints a known value is that value: the mapping of a volume.
        ('M=m\nmp() { printf \'/dev/mapper/%s\' "$M"; }\nmount "$(mp)" /srv/c', None, []),
        ("mount \"$(printf '/dev/mapper/%s' m)\" /srv/c", None, []),
        # One that prints something else, or runs anything, stays unknown: all of /srv/c may change.
        (
            "mp() { printf '/srv/other'; }\nmount \"$(mp)\" /srv/c",
            None,
            [("/srv/other", "?", True), ("/srv/c", "?", True)],
        ),
        ('mp() { cat /etc/x; }\nmount "$(mp)" /srv/c', None, [("/srv/c", "?", True)]),
        ("echo 'a#b' > /srv/c/a.yml", None, [("/srv/c/a.yml", "a#b\n", False)]),
        # A line continuation joins the lines: one command, not a second one named by its argument.
        ("cat \\\n  > /srv/c/a.yml", "s", [("/srv/c/a.yml", "s", False)]),
        ("D=/srv/c\nprintf '%s' x \\\n  \"$D\" >/dev/null", None, []),
        ('M=/srv/c\nchattr +i -- "$M" # immutable mount point\nlsattr -d "$M"', None, []),
        # Wrappers in front, with their options and values, as the shell reader strips them.
        ("timeout 30 cp /dev/stdin /srv/c/a.yml", "y", [("/srv/c/a.yml", "y", False)]),
        ("timeout --signal=KILL 30 tee /srv/c/a.yml", "y", [("/srv/c/a.yml", "y", False)]),
        ("stdbuf -o0 cat > /srv/c/a.yml", "y", [("/srv/c/a.yml", "y", False)]),
        ("setsid cp /dev/stdin /srv/c/a.yml", "y", [("/srv/c/a.yml", "y", False)]),
    ],
)
def test_what_a_command_writes(create: str, stdin: Any, expected: list[tuple[str, Any, bool]]) -> None:
    assert _writes(create, stdin) == expected


def test_a_write_the_reader_cannot_place_makes_every_named_directory_opaque() -> None:
    from analysis.container_files import command_writes

    (writes,) = command_writes(_resource('T=$(choose-target)\ncat > "$T"\n# near /srv/c', "x"))
    assert "/srv/c" in writes.unresolved_near


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("cat > /srv/edge/data/dynamic/x.yml", True),  # inside
        ("D=/srv/edge; cat > $D/data/x.yml", True),  # above, as a whole path
        ("cp -r /tmp/x /srv/", True),
        ("rm -rf /", True),
        ("EP_BASE_DIR='/srv/edge'\nEP_RELATIVE_PATH='data/x.yml'", True),
        ("mkdir -p /srv/other/data", False),
        ("cat > /srv/edgecfg2/x", False),
        ("echo hi > /tmp/x", False),
    ],
)
def test_which_commands_the_reader_reads_for_a_mounted_directory(text: str, named: bool) -> None:
    from analysis.container_files import names_directory

    assert names_directory(text, "/srv/edge/data") is named
