"""The exit codes users read in the README, the table in errors.py and the classes that
raise them are one list: a code added, changed or dropped in one place fails here."""

from __future__ import annotations

import re
from pathlib import Path

import labship.errors as errors
from labship.errors import LabshipError

REPO = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|(?:\s*([^|]+?)\s*\|)?\s*$")


def _rows(text: str, heading: str) -> list[tuple[str, ...]]:
    """The rows of the first Markdown table after ``heading`` (header and rule left out)."""
    lines = text[text.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        match = ROW.match(line)
        if match is None:
            break
        rows.append(tuple(cell for cell in match.groups() if cell is not None))
    return rows


def _classes() -> dict[str, int]:
    """Every error class labship defines, and its exit code."""
    return {
        name: cls.exit_code
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, LabshipError) and cls is not LabshipError
    }


def test_the_readme_lists_exactly_the_codes_the_errors_exit_with() -> None:
    rows = _rows((REPO / "README.md").read_text(encoding="utf-8"), "## Exit codes")
    codes = [code for code, _meaning in rows]
    assert codes[0] == "job's own"  # labship run passes the job's code through
    assert all(re.fullmatch(r"\d+", c) for c in codes[1:]), codes
    assert sorted(int(c) for c in codes[1:]) == sorted(set(_classes().values()))
    assert len(codes) == len(set(codes)), "a code listed twice"


def test_the_table_in_errors_py_is_the_classes() -> None:
    rows = _rows(errors.__doc__ or "", "| code")
    listed = {name: int(code) for code, name, _meaning in rows}
    assert listed == _classes()


def test_the_checkers_read_a_table() -> None:
    text = (
        "## Exit codes\n\n| code | meaning |\n|---|---|\n| 64 | usage |\n| 65 | spec |\n\nafter\n"
    )
    assert _rows(text, "## Exit codes") == [("64", "usage"), ("65", "spec")]
