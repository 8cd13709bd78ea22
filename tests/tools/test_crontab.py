"""labship.tools.crontab: marked entries among a user's own lines; crontab missing or
the user without a crontab. The real crontab and daemon: tests/targets/test_cron_daemon.py."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from labship.errors import RuntimeUnavailable, ToolError
from labship.tools import crontab
from labship.tools.crontab import Entry

USER = b"""\
MAILTO=""
PATH=/usr/local/bin:/usr/bin:/bin
SHELL=/bin/bash
# nightly backup, do not touch
0 3 * * * /usr/local/bin/backup --all
# labship:aaaaaaaaaaaa train
0 22 * * * /bin/sh /a/.labship/cron/train.sh
*/10 * * * * echo 'not ours' % and a percent
# labship:bbbbbbbbbbbb train
5 1 * * * /bin/sh /b/.labship/cron/train.sh
"""


def _ours(tag: str) -> bool:
    return tag.startswith("aaaaaaaaaaaa ")


def test_entries_are_the_marked_pairs() -> None:
    assert crontab.entries(USER, "labship:") == [
        Entry("aaaaaaaaaaaa train", "0 22 * * * /bin/sh /a/.labship/cron/train.sh"),
        Entry("bbbbbbbbbbbb train", "5 1 * * * /bin/sh /b/.labship/cron/train.sh"),
    ]


def test_replacing_keeps_every_other_line_in_its_place() -> None:
    new = [Entry("aaaaaaaaaaaa train", "1 2 * * * x"), Entry("aaaaaaaaaaaa eval", "3 4 * * * y")]
    text = crontab.replace(USER, "labship:", _ours, new)
    assert text == USER.replace(
        b"# labship:aaaaaaaaaaaa train\n0 22 * * * /bin/sh /a/.labship/cron/train.sh\n",
        b"# labship:aaaaaaaaaaaa train\n1 2 * * * x\n# labship:aaaaaaaaaaaa eval\n3 4 * * * y\n",
    )
    assert crontab.replace(text, "labship:", _ours, new) == text  # idempotent


def test_dropping_leaves_the_rest_and_adding_new_goes_last() -> None:
    dropped = crontab.replace(USER, "labship:", _ours)
    assert b"/a/.labship" not in dropped
    assert dropped == USER.replace(
        b"# labship:aaaaaaaaaaaa train\n0 22 * * * /bin/sh /a/.labship/cron/train.sh\n", b""
    )
    added = crontab.replace(dropped, "labship:", _ours, [Entry("aaaaaaaaaaaa train", "x")])
    assert added == dropped + b"# labship:aaaaaaaaaaaa train\nx\n"


def test_a_marker_whose_line_was_deleted_by_hand_takes_nothing_else() -> None:
    text = b"# labship:aaaaaaaaaaaa train\n# labship:aaaaaaaaaaaa eval\n1 * * * * y\nMAILTO=x"
    assert crontab.entries(text, "labship:")[0] == Entry("aaaaaaaaaaaa train", "")
    assert crontab.replace(text, "labship:", lambda tag: tag.endswith("train")) == (
        b"# labship:aaaaaaaaaaaa eval\n1 * * * * y\nMAILTO=x\n"
    )


def test_an_empty_crontab_gets_the_entries() -> None:
    assert crontab.replace(b"", "labship:", _ours, [Entry("aaaaaaaaaaaa t", "x")]) == (
        b"# labship:aaaaaaaaaaaa t\nx\n"
    )


def test_other_lines_survive_byte_for_byte_whatever_their_encoding() -> None:
    """Latin-1 (caf\\xe9, and \\x85, a line break to str.splitlines), CR, form feed, NUL-free
    odd bytes: never decoded, never split but at LF."""
    odd = b"# caf\xe9 \x85 na\xefve\r\n0 1 * * * echo \x0c\x1c\xff\n"
    text = crontab.replace(USER + odd, "labship:", _ours, [Entry("aaaaaaaaaaaa t", "x")])
    assert odd in text
    assert (
        crontab.replace(text, "labship:", _ours)
        == USER.replace(
            b"# labship:aaaaaaaaaaaa train\n0 22 * * * /bin/sh /a/.labship/cron/train.sh\n", b""
        )
        + odd
    )


def _fake_crontab(folder: Path, script: str) -> None:
    path = folder / "crontab"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_no_crontab_yet_reads_as_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_crontab(tmp_path, 'echo "no crontab for $(id -un)" >&2; exit 1')
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert crontab.read() == b""


def test_another_failure_is_crontabs_own_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_crontab(tmp_path, 'echo "crontab: your UID isn\'t in the passwd file" >&2; exit 1')
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with pytest.raises(ToolError) as info:
        crontab.read()
    assert "your UID isn't in the passwd file" in str(info.value)


def test_crontab_not_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeUnavailable) as info:
        crontab.read()
    assert str(info.value) == (
        "crontab is not installed (not found on PATH); "
        "install cron (Debian/Ubuntu: sudo apt-get install cron)"
    )
    assert info.value.exit_code == 69


def test_daemon_running_reads_the_pidfile(tmp_path: Path) -> None:
    pidfile = tmp_path / "crond.pid"
    assert crontab.daemon_running(pidfile) is False
    pidfile.write_text(f"{os.getpid()}\n")
    assert crontab.daemon_running(pidfile) is True
    pidfile.write_text("garbage")
    assert crontab.daemon_running(pidfile) is False
