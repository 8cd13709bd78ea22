"""labship.state: every path under .labship/ is named in one place."""

from __future__ import annotations

from pathlib import Path

from labship import state


def test_every_state_path_is_under_labship_and_distinct(tmp_path: Path) -> None:
    s = state.State(tmp_path / state.DIR)
    paths = [s.runs, s.pushes, s.lab, s.lab_log, s.mlflow, s.mlflow_log, s.cron]
    paths.append(s.airflow_variables("prod"))
    assert all(p.is_relative_to(s.dir) for p in paths)
    assert len(set(paths)) == len(paths)
    assert not s.dir.exists()  # naming a path creates nothing


def test_scratch_folders_are_private_and_new(tmp_path: Path) -> None:
    s = state.at(tmp_path / state.DIR)
    one, two = s.scratch("context-"), s.scratch("context-")
    assert one != two and one.parent == two.parent == s.dir
    assert one.stat().st_mode & 0o777 == 0o700
