"""Fixtures of the policy tier: one policy pack process per session (started and spoken to as the
engine does), and the pack's own modules importable for pure rule-logic unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.analyzer import PolicyPackProcess


@pytest.fixture(scope="session")
def pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess() as process:
        process.start()
        yield process
