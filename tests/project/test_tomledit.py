"""labship.project.tomledit: one job's schedule written into a hand-written labship.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from labship.errors import ConfigError
from labship.project.settings import read_settings
from labship.project.tomledit import set_schedule

HAND_WRITTEN = """\
# Churn model: see the wiki.
[project]
name = "churn"   # also the image name
spec = "requirements.txt"

[jobs.train]
# the nightly fit
command = "python code/train.py"  # keep this comment
description = "fit"

# scoring runs after training
[jobs."score all"]
command = "python code/score.py"
schedule = "0 1 * * *"

[env]
required = []
"""


def _file(tmp_path: Path, text: str = HAND_WRITTEN) -> Path:
    path = tmp_path / "labship.toml"
    path.write_text(text)
    path.chmod(0o644)
    return path


def test_a_new_key_goes_after_the_tables_last_key_and_nothing_else_changes(tmp_path: Path) -> None:
    path = _file(tmp_path)
    settings = set_schedule(path, "train", schedule="0 22 * * *", timezone="UTC")
    assert path.read_text() == HAND_WRITTEN.replace(
        'description = "fit"\n', 'description = "fit"\nschedule = "0 22 * * *"\ntimezone = "UTC"\n'
    )
    assert settings == read_settings(path)
    assert settings.jobs["train"].schedule == "0 22 * * *"
    assert path.stat().st_mode & 0o777 == 0o644


def test_an_existing_key_is_replaced_in_place_under_a_quoted_name(tmp_path: Path) -> None:
    path = _file(tmp_path)
    set_schedule(path, "score all", schedule="30 2 * * mon")
    assert path.read_text() == HAND_WRITTEN.replace('"0 1 * * *"', '"30 2 * * mon"')
    set_schedule(path, "score all", schedule="30 2 * * mon")  # again: the same bytes
    assert path.read_text() == HAND_WRITTEN.replace('"0 1 * * *"', '"30 2 * * mon"')


def test_a_last_table_without_a_final_newline(tmp_path: Path) -> None:
    path = _file(tmp_path, '[project]\nname = "x"\n\n[jobs.t]\ncommand = "true"')
    set_schedule(path, "t", schedule="@daily")
    assert (
        path.read_text()
        == '[project]\nname = "x"\n\n[jobs.t]\ncommand = "true"\nschedule = "@daily"\n'
    )


@pytest.mark.parametrize(
    "text",
    [
        '[project]\nname = "x"\n\n[jobs]\nt = "true"\n',  # the short form
        '[project]\nname = "x"\n\n[jobs]\nt = { command = "true" }\n',  # an inline table
        '[project]\nname = "x"\n[jobs.t]\ncommand = "true"\nschedule = """\n0 1 * * *"""\n',
    ],
)
def test_a_layout_the_edit_cannot_prove_is_left_untouched(tmp_path: Path, text: str) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        set_schedule(path, "t", schedule="0 2 * * *")
    assert str(info.value) == (
        f'{path}: cannot find a [jobs.t] table to edit safely; add schedule = "0 2 * * *" '
        "to the job's table by hand, then run 'labship schedule'"
    )
    assert path.read_text() == text
