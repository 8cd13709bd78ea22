"""labship.actions.crontime: a job's time zone honoured in cron's one zone, or refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from labship.actions.crontime import NotExpressible, Zone, in_system_zone, next_runs, system_zone
from labship.project.cronexpr import parse

NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)  # winter in the north: clocks change in 2027
UTC_ZONE = Zone("Etc/UTC", ZoneInfo("Etc/UTC"))


def _zone(name: str) -> Zone:
    return Zone(name, ZoneInfo(name))


def _moved(text: str, job: str, system: Zone = UTC_ZONE) -> str:
    return in_system_zone(parse(text), _zone(job), system, NOW)


def _refused(text: str, job: str, system: Zone = UTC_ZONE) -> str:
    with pytest.raises(NotExpressible) as info:
        _moved(text, job, system)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "job", "cron"),
    [
        ("0 22 * * *", "Etc/UTC", "0 22 * * *"),
        ("0 22 * * *", "UTC", "0 22 * * *"),
        ("0 22 * * *", "Asia/Tokyo", "0 13 * * *"),
        ("0 5 * * mon-fri", "Asia/Tokyo", "0 20 * * 0-4"),  # 05:00 Monday in Tokyo: Sunday in UTC
        ("30 22 * * *", "Asia/Kolkata", "0 17 * * *"),
        ("0 0-3 * * *", "Etc/GMT-3", "0 0,21-23 * * *"),  # across midnight, every day: fine
        ("*/20 * * * *", "Asia/Kolkata", "10,30,50 * * * *"),
        ("*/20 * * * *", "Europe/Berlin", "*/20 * * * *"),  # hourly: DST does not matter
        ("* * * * *", "Australia/Lord_Howe", "* * * * *"),
    ],
)
def test_moved_exactly(text: str, job: str, cron: str) -> None:
    assert _moved(text, job) == cron
    # The proof, independently: the same instants, read by cronsim in each zone.
    assert next_runs(parse(text).text, ZoneInfo(job), 50, NOW) == next_runs(
        cron, ZoneInfo("Etc/UTC"), 50, NOW
    )


def test_zones_that_change_clocks_together_move_by_their_fixed_distance() -> None:
    assert _moved("0 22 * * *", "Europe/Berlin", _zone("Europe/London")) == "0 21 * * *"
    assert _moved("0 22 * * *", "Europe/Berlin", _zone("Europe/Paris")) == "0 22 * * *"


def test_a_zone_with_daylight_saving_on_a_utc_machine_is_refused_with_the_date() -> None:
    assert _refused("0 22 * * *", "Europe/Berlin") == (
        "Europe/Berlin is +1h from Etc/UTC (cron's own zone) now but +2h from "
        "2027-03-28 01:00 UTC: one crontab line cannot follow both clocks"
    )


def test_zones_that_change_clocks_an_hour_apart_are_refused() -> None:
    """New York and Chicago are 1 h apart but for the hour between their changes."""
    message = _refused("30 1 * * *", "America/Chicago", _zone("America/New_York"))
    assert message.startswith(
        "America/Chicago is -1h from America/New_York (cron's own zone) now but -2h from "
        "2027-03-14 07:00 UTC"
    )


def test_a_day_of_month_cannot_move_to_the_day_before() -> None:
    assert "its days of the month cannot" in _refused("0 3 1 * *", "Asia/Tokyo")


def test_minutes_that_fall_in_two_hours_are_refused() -> None:
    assert "its minutes differ from hour to hour" in _refused("* 22 * * *", "Asia/Kolkata")


def test_a_weekday_job_whose_times_straddle_midnight_is_refused() -> None:
    assert "previous or next day" in _refused("0 8,10 * * mon", "Asia/Tokyo")


def test_system_zone_is_what_debian_cron_reads(tmp_path: Path) -> None:
    (tmp_path / "timezone").write_text("Europe/Berlin\n")
    assert system_zone(tmp_path).name == "Europe/Berlin"
    (tmp_path / "timezone").unlink()
    (tmp_path / "localtime").symlink_to("/usr/share/zoneinfo/Asia/Tokyo")
    assert system_zone(tmp_path).name == "Asia/Tokyo"
    (tmp_path / "localtime").unlink()
    assert system_zone(tmp_path).name == "UTC"


def test_next_runs_in_the_jobs_zone() -> None:
    runs = next_runs("0 22 * * *", ZoneInfo("Europe/Berlin"), 3, NOW)
    assert [t.isoformat() for t in runs] == [
        "2026-11-29T21:00:00+00:00",
        "2026-11-30T21:00:00+00:00",
        "2026-12-01T21:00:00+00:00",
    ]
