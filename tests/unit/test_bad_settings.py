"""Every row of the bad-settings table (tests/support/bad_settings.py) is refused with the key
named as `pulumi config set --path` spells it: by `parse_settings`, and by the whole program
under the SDK's mock runtime before a single resource is registered."""

from __future__ import annotations

import pytest

from components.settings import SettingsError, parse_settings
from tests.support.bad_settings import ROWS, BadSettings
from tests.support.program_runner import RealisticMocks, RecordingMonitor, run_program

pytestmark = pytest.mark.unit

IDS = [f"{row.finding}:{row.key.split(':', 1)[1]}#{index}" for index, row in enumerate(ROWS)]


def assert_named(problems: list[str], row: BadSettings) -> None:
    named = [p for p in problems if p.startswith(row.key + ": ")]
    assert named, f"no problem names {row.key}: {problems}"
    assert any(row.fragment in p for p in named), f"{row.fragment!r} not explained in {named}"


def test_the_table_is_large_and_distinct() -> None:
    assert len(ROWS) >= 60
    assert len({repr(row.config) for row in ROWS}) == len(ROWS), "two rows test the same input"
    assert {row.finding for row in ROWS} >= {
        "path",
        "grammar",
        "unknown",
        "spelling",
        "device",
        "value",
        "cross",
    }


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_parse_settings_names_the_key(row: BadSettings) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(row.config)
    assert_named(caught.value.problems, row)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_the_program_stops_before_registering_anything(row: BadSettings) -> None:
    mocks = RealisticMocks()
    monitor = RecordingMonitor(mocks)
    with pytest.raises(SettingsError) as caught:
        run_program(config=row.config, mocks=mocks, monitor=monitor)
    assert_named(caught.value.problems, row)
    assert monitor.registrations == [], [r.name for r in monitor.registrations]
