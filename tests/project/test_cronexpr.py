"""labship.project.cronexpr: Debian cron's grammar, and one clear reason for each refusal."""

from __future__ import annotations

import pytest

from labship.project.cronexpr import DOW, HOUR, MINUTE, MONTH, CronSyntaxError, parse


def _error(text: str) -> str:
    with pytest.raises(CronSyntaxError) as info:
        parse(text)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_values_of_each_form() -> None:
    expr = parse("*/15 8-18/5 * jan-MAR mon,wed-fri")
    assert expr.values[MINUTE] == {0, 15, 30, 45}
    assert expr.values[HOUR] == {8, 13, 18}
    assert expr.values[MONTH] == {1, 2, 3}
    assert expr.values[DOW] == {1, 3, 4, 5}
    assert expr.text == "*/15 8-18/5 * jan-MAR mon,wed-fri"


def test_sunday_is_0_and_7_and_shorthands_expand() -> None:
    assert parse("0 0 * * 7").values[DOW] == {0}
    assert parse("0 0 * * 0-7").every(DOW)
    assert parse("@daily").text == "0 0 * * *"
    assert parse("@HOURLY").text == "0 * * * *"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("61 * * * *", "minute field: 61 is out of range 0-59"),
        ("* 24 * * *", "hour field: 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month field: 0 is out of range 1-31"),
        ("* * * 13 *", "month field: 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week field: 8 is out of range 0-7"),
        ("5-1 * * * *", "minute field: '5-1' runs backwards"),
        ("*/0 * * * *", "minute field: '*/0': the step must be 1 or more"),
        ("5/10 * * * *", "minute field: '5/10': a step needs '*' or a range before it"),
        ("mon * * * *", "minute field: 'mon': 'mon' is not a number"),
        ("* * * * sunday", "day-of-week field: 'sunday': 'sunday' is not a number or a day name"),
        ("1,,2 * * * *", "minute field: '1,,2' has an empty item"),
        ("* * L * *", "day-of-month field: 'L': cron does not understand 'L'"),
        ("* * 15W * *", "cron does not understand 'W'"),
        ("* * * * 5#2", "day-of-week field: '5#2': cron does not understand '#'"),
        ("* * ? * *", "cron does not understand '?'"),
        ("0 0 31 2 *", "day-of-month field: '31' never comes in month field '2'"),
        ("* * * * * *", "has 6 fields: cron has no seconds field"),
        ("* * * *", "has 4 fields; cron needs 5"),
        ("", "is empty"),
        ("@reboot", "@reboot is not a schedule"),
        ("@every 5m", "'@every' is not a cron shorthand"),
        ("@daily now", "@daily stands alone"),
        ("٣ * * * *", "is not a number"),
    ],
)
def test_refusals_name_the_field_and_the_value(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_either_day_field_may_match_when_neither_is_starred() -> None:
    """Debian's cron ORs the day fields unless one starts with '*': 31 Feb OR Mondays runs."""
    assert parse("0 0 31 2 mon").values[DOW] == {1}
    assert "never" in _error("0 0 31 2 */1")
