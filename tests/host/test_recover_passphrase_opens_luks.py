"""`make recover-passphrase` into a pipe, against real cryptsetup on an image file: the bytes it
writes are the key `cryptsetup open --key-file=-` accepts (that option takes every byte of its
stdin, a newline too, so the same passphrase with a newline is refused). The escrow comes from a
stand-in `pulumi` (tests/support/pulumi_standin.py); the header is a real LUKS2 header."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support.program_runner import REPO
from tests.support.pulumi_standin import StandInPulumi

PASSPHRASE = "Rk8vQ2mZ7pLx4TnW9bYc3JhF6dGs1AeU5oKiNqEtMwXyPzVaBrClDjHgSfOuIe0"
# A cheap KDF: a setting of the header, not of what is tested.
FAST_KDF = ["--pbkdf", "argon2id", "--pbkdf-memory", "32768", "--pbkdf-force-iterations", "4"]


def test_what_it_pipes_opens_the_luks_header(tmp_path: Path) -> None:
    image = tmp_path / "app-db.img"
    with image.open("wb") as file:
        file.truncate(32 * 1024 * 1024)
    subprocess.run(
        [
            "cryptsetup",
            "luksFormat",
            "--batch-mode",
            "--type",
            "luks2",
            *FAST_KDF,
            "--key-file=-",
            str(image),
        ],
        input=PASSPHRASE.encode(),
        check=True,
        capture_output=True,
    )
    pulumi = StandInPulumi(
        tmp_path / "bin", json.dumps({"app-db": {"keyVersion": 1, "passphrase": PASSPHRASE}})
    )
    recovered = subprocess.run(
        ["make", "-s", "recover-passphrase", "STACK=dev", "VOLUME=app-db", "YES=1"],
        cwd=REPO,
        env={**os.environ, "PATH": f"{pulumi.directory}{os.pathsep}{os.environ['PATH']}"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        start_new_session=True,
        check=False,
    )
    assert recovered.returncode == 0, recovered.stderr.decode()
    assert pulumi.calls() == [
        ["stack", "output", "--stack", "dev", "--show-secrets", "--json", "volumePassphrases"]
    ]

    def opens(key: bytes) -> bool:
        result = subprocess.run(
            ["cryptsetup", "open", "--test-passphrase", "--type", "luks2", "--key-file=-", str(image)],
            input=key,
            capture_output=True,
            check=False,
        )
        assert result.returncode in (0, 2), result.stderr.decode()
        return result.returncode == 0

    assert opens(recovered.stdout)
    # The control: what --key-file=- would get from a program that ended its line.
    assert not opens(recovered.stdout + b"\n")
