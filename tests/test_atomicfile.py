"""The one atomic writer: modes like any other project file, all-or-nothing, one error."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from labship.atomicfile import write_text_atomic, write_texts_atomic
from labship.errors import FileWriteError


@pytest.fixture
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_follows_the_umask_like_any_other_file(tmp_path: Path, umask_027: None) -> None:
    write_text_atomic(tmp_path / "pylock.toml", "x")
    (tmp_path / "by-hand.txt").write_text("x")
    assert _mode(tmp_path / "pylock.toml") == _mode(tmp_path / "by-hand.txt") == 0o640


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o664, 0o755])
def test_a_replaced_file_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("old")
    path.chmod(mode)
    write_text_atomic(path, "new")
    assert path.read_text() == "new"
    assert _mode(path) == mode


def test_a_failed_write_is_one_error_and_leaves_the_old_files(tmp_path: Path) -> None:
    first, blocked = tmp_path / "pylock.toml", tmp_path / "not-a-folder"
    first.write_text("old prod")
    blocked.write_text("a file where a folder should be")
    with pytest.raises(FileWriteError) as info:
        write_texts_atomic({first: "new prod", blocked / "pylock.dev.toml": "new dev"})
    assert info.value.exit_code == 74
    assert "not-a-folder" in str(info.value) and "previous file is unchanged" in str(info.value)
    assert first.read_text() == "old prod"  # both or neither
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder", "pylock.toml"]
