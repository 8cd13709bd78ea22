"""Cron expressions as Debian's cron (vixie cron 3.0pl1) reads them, checked before
cron ever sees one.

``crontab`` refuses a bad line with "bad minute" and nothing more, and accepts some that
never fire (``0 0 31 2 *``); labship says which field and which value, and why. The
grammar is the daemon's: five fields, ``*``, numbers, ranges, lists, ``/step`` after
``*`` or a range, three-letter names for months and weekdays (in ranges too), 0 and 7
both Sunday, and the shorthands ``@hourly`` ... ``@yearly``. Refused, each with its
reason: a sixth (seconds) field, ``@reboot`` (not a schedule: Debian's cron runs it only
while the machine boots), and the Quartz extensions ``L``, ``W``, ``#`` and ``?``.

Pure Python and small: labship.toml is validated on every command, ``labship run``
included. Next run times are cronsim's (``labship.actions.crontime``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (name, lowest, highest) of the five fields, in order.
FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
MINUTE, HOUR, DOM, MONTH, DOW = range(5)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NAMES = {
    MONTH: {n: i + 1 for i, n in enumerate(_MONTHS)},
    DOW: {n: i for i, n in enumerate(_DAYS)},
}
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_ELEMENT = re.compile(r"(?:(\*)|(\w+)(?:-(\w+))?)(?:/(\w+))?")
_EXTENSIONS = {"L": "last", "W": "nearest weekday", "#": "nth weekday", "?": "no value"}


class CronSyntaxError(ValueError):
    """What is wrong with an expression, naming the field and the value."""


@dataclass(frozen=True)
class CronExpr:
    """A valid expression: the five field texts as written (shorthands expanded) and the
    values each allows (Sunday is 0)."""

    fields: tuple[str, str, str, str, str]
    values: tuple[frozenset[int], ...]

    @property
    def text(self) -> str:
        return " ".join(self.fields)

    def starred(self, index: int) -> bool:
        """Debian's cron ANDs the two day fields when either starts with ``*``."""
        return self.fields[index].startswith("*")

    def every(self, index: int) -> bool:
        """The field allows every value (``*``, ``*/1``, ``0-59``, ...)."""
        _name, low, high = FIELDS[index]
        return self.values[index] == frozenset(range(low, 7 if index == DOW else high + 1))


def parse(text: str) -> CronExpr:
    """A valid expression, or CronSyntaxError saying which field and value are wrong."""
    words = text.split()
    if not words:
        raise CronSyntaxError("is empty: write five fields, e.g. '0 22 * * *'")
    if words[0].startswith("@"):
        words = _macro(words)
    if len(words) == 6:
        raise CronSyntaxError(
            "has 6 fields: cron has no seconds field and fires at most once a minute; "
            "write minute hour day-of-month month day-of-week"
        )
    if len(words) != 5:
        raise CronSyntaxError(
            f"has {len(words)} fields; cron needs 5: minute hour day-of-month month day-of-week"
        )
    values = tuple(_field(index, word) for index, word in enumerate(words))
    expr = CronExpr((words[0], words[1], words[2], words[3], words[4]), values)
    _check_it_fires(expr)
    return expr


def _macro(words: list[str]) -> list[str]:
    word = words[0].lower()
    if word == "@reboot":
        raise CronSyntaxError(
            "@reboot is not a schedule: Debian's cron runs it only while the machine boots; "
            "give a time, e.g. '@daily'"
        )
    if word not in MACROS:
        raise CronSyntaxError(
            f"{words[0]!r} is not a cron shorthand; use one of {', '.join(MACROS)}"
        )
    if len(words) > 1:
        raise CronSyntaxError(f"{words[0]} stands alone: nothing may follow it")
    return MACROS[word].split()


def _field(index: int, word: str) -> frozenset[int]:
    allowed: set[int] = set()
    for element in word.split(","):
        if not element:
            raise CronSyntaxError(f"{FIELDS[index][0]} field: {word!r} has an empty item")
        allowed |= _element(index, element)
    if index == DOW and 7 in allowed:
        allowed = (allowed - {7}) | {0}
    return frozenset(allowed)


def _element(index: int, element: str) -> set[int]:
    name, low, high = FIELDS[index]
    for mark, meaning in _EXTENSIONS.items():
        if mark in element:
            raise CronSyntaxError(
                f"{name} field: {element!r}: cron does not understand {mark!r} ({meaning}, "
                "a Quartz extension)"
            )
    match = _ELEMENT.fullmatch(element)
    if match is None:
        raise CronSyntaxError(
            f"{name} field: {element!r} is not '*', a number, a range (a-b) or a step (*/n)"
        )
    star, first, last, step_text = match.groups()
    start, end = (low, high) if star else (_value(index, first), _value(index, last or first))
    if step_text is not None and not star and last is None:
        raise CronSyntaxError(f"{name} field: {element!r}: a step needs '*' or a range before it")
    if end < start:
        raise CronSyntaxError(f"{name} field: {element!r} runs backwards")
    step = 1 if step_text is None else _number(name, step_text, element)
    if step < 1:
        raise CronSyntaxError(f"{name} field: {element!r}: the step must be 1 or more")
    return set(range(start, end + 1, step))


def _value(index: int, word: str) -> int:
    name, low, high = FIELDS[index]
    names = _NAMES.get(index, {})
    if word.lower() in names:
        return names[word.lower()]
    value = _number(name, word, word)
    if not low <= value <= high:
        raise CronSyntaxError(f"{name} field: {word} is out of range {low}-{high}")
    return value


def _number(name: str, word: str, element: str) -> int:
    if not word.isascii() or not word.isdigit():
        hint = {"day-of-week": " or a day name (mon)", "month": " or a month name (jan)"}
        raise CronSyntaxError(
            f"{name} field: {element!r}: {word!r} is not a number{hint.get(name, '')}"
        )
    return int(word)


def _check_it_fires(expr: CronExpr) -> None:
    """Refuse what cron accepts but never runs: only days that no chosen month has."""
    if not (expr.starred(DOM) or expr.starred(DOW)):
        return  # either day field may match: the weekdays alone make it run
    longest = max(_DAYS_IN_MONTH[month - 1] for month in expr.values[MONTH])
    if min(expr.values[DOM]) > longest:
        raise CronSyntaxError(
            f"day-of-month field: {expr.fields[DOM]!r} never comes in month field "
            f"{expr.fields[MONTH]!r}: it would never run"
        )
