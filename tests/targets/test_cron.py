"""The cron target and ``labship schedule`` against a fake ``crontab`` (fast). The real
crontab and daemon: test_cron_daemon.py."""

from __future__ import annotations

import io
import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import MakeProject, labship
from labship import api, pushes, targets
from labship.actions.schedule import Installed, _entry
from labship.console import Console
from labship.errors import ConfigError, ConflictError, UsageError
from labship.generated import state as file_state
from labship.project import Project, load_project
from labship.targets import cron
from labship.targets.base import Context

SECRET = "prod-secret-value-456"
USER_LINES = 'MAILTO=""\nPATH=/usr/bin:/bin\n# backup\n0 3 * * * /usr/local/bin/backup\n'
FAKE = """#!/bin/sh
# A stand-in for crontab(1): the table is a file; every write is counted.
case "$1" in
  -l) [ -f "$FAKE_CRONTAB" ] || { echo "no crontab for $(id -un)" >&2; exit 1; }
      cat "$FAKE_CRONTAB" ;;
  -) cat > "$FAKE_CRONTAB"; echo x >> "$FAKE_CRONTAB.writes" ;;
esac
"""


@pytest.fixture
def fake_crontab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "crontab"
    script.write_text(FAKE)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    table = tmp_path / "table"
    monkeypatch.setenv("FAKE_CRONTAB", str(table))
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return table


def _project(make_project: MakeProject, extra: str = "") -> Project:
    root = make_project(
        jobs={"hello": "python code/hello.py", "other": "python code/hello.py"},
        extra_toml=extra,
    )
    return load_project(root)


def _schedule(
    project: Project,
    job: str | None = None,
    *,
    cron: str | None = None,
    timezone: str | None = None,
) -> list[Installed]:
    return api.schedule(project, job, cron=cron, timezone=timezone, console=Console(quiet=True))


def _writes(table: Path) -> int:
    writes = Path(f"{table}.writes")
    return len(writes.read_text().splitlines()) if writes.exists() else 0


def test_install_keeps_the_users_lines_and_is_idempotent(
    make_project: MakeProject, fake_crontab: Path
) -> None:
    fake_crontab.write_text(USER_LINES)
    project = _project(make_project)
    _schedule(project, "hello", cron="0 22 * * *")
    text = fake_crontab.read_text()
    tag = cron.project_tag(project)
    assert text == USER_LINES + (
        f"# labship:{tag} hello\n0 22 * * * /bin/sh {project.root}/.labship/cron/hello.sh\n"
    )
    assert _writes(fake_crontab) == 1
    _schedule(load_project(project.root))
    _schedule(load_project(project.root), "hello")
    assert fake_crontab.read_text() == text
    assert _writes(fake_crontab) == 1  # nothing changed: crontab was not rewritten


def test_first_install_for_a_user_without_a_crontab(
    make_project: MakeProject, fake_crontab: Path
) -> None:
    project = _project(make_project, '\n[jobs.nightly]\ncommand = "true"\nschedule = "@daily"\n')
    installed = _schedule(project)
    assert [i.job for i in installed] == ["nightly"]
    assert fake_crontab.read_text().splitlines()[1].startswith("0 0 * * * /bin/sh ")


def test_remove_one_then_all(make_project: MakeProject, fake_crontab: Path) -> None:
    fake_crontab.write_text(USER_LINES)
    project = _project(make_project)
    _schedule(project, "hello", cron="0 22 * * *")
    project = load_project(project.root)
    _schedule(project, "other", cron="0 23 * * *")
    assert api.unschedule(project, "hello") == ["hello"]
    assert "hello.sh" not in fake_crontab.read_text()
    assert "other.sh" in fake_crontab.read_text()
    assert api.unschedule(project) == ["other"]
    assert fake_crontab.read_text() == USER_LINES
    assert api.unschedule(project) == []


def test_list_shows_next_runs_and_the_last_run(
    make_project: MakeProject, fake_crontab: Path
) -> None:
    project = _project(make_project)
    _schedule(project, "hello", cron="0 22 * * *", timezone="Asia/Tokyo")
    skipped = {
        "job": "hello",
        "profile": "prod",
        "runtime": "local",
        "start": "2026-01-01T00:00:00Z",
        "duration_s": 1.0,
        "exit_code": 75,
        "lock_hash": "",
        "git_commit": None,
        "outcome": "skipped",
    }
    (project.state_dir / "runs.jsonl").write_text(json.dumps(skipped) + "\n")
    [row] = api.schedule_list(load_project(project.root))
    assert (row.job, row.schedule, row.zone, row.installed) == (
        "hello", "0 22 * * *", "Asia/Tokyo", "yes"
    )  # fmt: skip
    assert [t.strftime("%H:%M %Z") for t in row.next_runs] == ["22:00 JST"] * 3
    assert row.last is not None and row.last.outcome == "skipped"
    assert fake_crontab.read_text().splitlines()[1].startswith("0 13 * * * ")  # cron runs in UTC


def test_the_wrapper_holds_no_secret_and_runs_locked(make_project: MakeProject) -> None:
    project = _project(make_project, "")
    job = project.job("hello")
    text = cron.render_wrapper(project, job)
    assert SECRET not in text and "prod-hello" not in text
    assert 'run --profile prod --locked -- "$job"' in text
    assert "flock -n 9" in text and "timeout" not in text.split("event start")[1].split("\n")[1]


def test_docker_jobs_run_the_last_pushed_digest(make_project: MakeProject) -> None:
    project = _project(make_project)
    job = replace(project.job("hello"), runtime="docker", timeout=60)
    assert "--image" not in cron.render_wrapper(project, job)  # nothing pushed: the local prod tag
    digest = "sha256:" + "a" * 64
    for image in ("old/x", "127.0.0.1:5000/demo"):
        record = pushes.PushRecord(
            image, digest, ("0.1.0",), None, "f" * 64, "2026-11-29T00:00:00Z"
        )
        pushes.append(project.state_dir, record)
    text = cron.render_wrapper(project, job)
    assert f"--runtime docker --image 127.0.0.1:5000/demo@{digest}" in text
    assert "timeout --signal=TERM --kill-after=15 60 " in text


def test_export_writes_wrappers_a_hand_edit_is_refused_and_eject_hands_them_over(
    make_project: MakeProject,
) -> None:
    project = _project(make_project, '\n[jobs.nightly]\ncommand = "true"\nschedule = "@daily"\n')
    [path] = api.export(project, "cron", console=Console(quiet=True))
    assert path == project.state_dir / "cron" / "nightly.sh"
    assert file_state(path) == "generated"
    path.write_text(path.read_text() + "echo mine\n")
    with pytest.raises(ConflictError):
        api.export(project, "cron", console=Console(quiet=True))
    api.eject(project, "cron")
    assert file_state(path) == "user"
    api.export(project, "cron", console=Console(quiet=True))
    assert path.read_text().endswith("echo mine\n")
    assert "cron" in targets.names() and targets.render(Context(project), "cron")


def test_odd_job_names_get_safe_file_names_and_quoted_paths(
    make_project: MakeProject, fake_crontab: Path
) -> None:
    project = _project(make_project, '\n[jobs."a b%c"]\ncommand = "true"\nschedule = "@daily"\n')
    _schedule(project)
    line = fake_crontab.read_text().splitlines()[1]
    name = cron.wrapper_path(project, project.job("a b%c")).name
    assert name.startswith("a-b-c-") and name.endswith(".sh")
    assert line == f"0 0 * * * /bin/sh {project.root}/.labship/cron/{name}"
    assert fake_crontab.read_text().splitlines()[0].endswith(" a b%c")  # the marker names it


# ------------------------------------------------------------------ bad input


def _cli(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    proc = labship("schedule", *args, cwd=root, env=env)
    return proc.returncode, proc.stderr.strip().splitlines()


def test_unknown_job(make_project: MakeProject, fake_crontab: Path) -> None:
    root = make_project()
    code, err = _cli(root, "nope", "--cron", "0 1 * * *")
    assert code == 64
    assert err == [
        f"labship: error: unknown job 'nope' in {root}/labship.toml; jobs defined: hello"
    ]


def test_malformed_cron_names_field_and_value_and_changes_nothing(
    make_project: MakeProject, fake_crontab: Path
) -> None:
    root = make_project()
    before = (root / "labship.toml").read_text()
    code, err = _cli(root, "hello", "--cron", "61 * * * *")
    assert (code, err) == (
        64, ["labship: error: --cron = '61 * * * *': minute field: 61 is out of range 0-59"]
    )  # fmt: skip
    code, err = _cli(root, "hello", "--cron", "0 0 * * * *")
    assert code == 64 and "has 6 fields: cron has no seconds field" in err[0] and len(err) == 1
    assert (root / "labship.toml").read_text() == before
    assert not fake_crontab.exists()


def test_a_schedule_cron_cannot_follow_is_refused_with_the_reason(
    make_project: MakeProject, fake_crontab: Path
) -> None:
    project = _project(make_project)
    with pytest.raises(UsageError) as info:
        _schedule(project, "hello", cron="0 22 * * *", timezone="America/New_York")
    assert str(info.value).startswith(
        "--cron '0 22 * * *' --timezone America/New_York cannot run in cron: "
        "America/New_York is -5h from"
    )
    assert "one crontab line cannot follow both clocks" in str(info.value)
    assert "schedule" not in (project.root / "labship.toml").read_text()
    toml = project.root / "labship.toml"
    toml.write_text(toml.read_text().replace("[lab]", 'timezone = "Asia/Tokyo"\n\n[lab]'))
    toml.write_text(toml.read_text().replace("timezone", 'schedule = "0 8,10 * * mon"\ntimezone'))
    with pytest.raises(ConfigError) as info:
        _schedule(load_project(project.root))
    assert str(info.value).startswith(f"{toml}: [jobs.other] cannot run in cron: ")


def test_cron_not_installed(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project()
    before = (root / "labship.toml").read_text()
    empty = tmp_path / "empty-path"
    empty.mkdir()
    code, err = _cli(root, "hello", "--cron", "0 1 * * *", env={"PATH": str(empty)})
    assert (code, err) == (
        69,
        [
            "labship: error: crontab is not installed (not found on PATH); "
            "install cron (Debian/Ubuntu: sudo apt-get install cron)"
        ],
    )
    assert (root / "labship.toml").read_text() == before


def test_a_job_without_a_schedule(make_project: MakeProject, fake_crontab: Path) -> None:
    project = _project(make_project)
    with pytest.raises(UsageError) as info:
        _schedule(project, "hello")
    assert str(info.value).startswith("job 'hello' has no schedule in ")


def test_list_and_remove_on_the_command_line(make_project: MakeProject, fake_crontab: Path) -> None:
    root = make_project()
    assert labship("schedule", "hello", "--cron", "*/5 * * * *", cwd=root).returncode == 0
    listed = labship("schedule", "list", cwd=root)
    assert listed.stdout.splitlines()[0].split() == [
        "job", "schedule", "zone", "installed", "next", "runs", "last", "run"
    ]  # fmt: skip
    assert " yes " in listed.stdout and "never" in listed.stdout
    removed = labship("schedule", "remove", cwd=root)
    assert "removed 'hello' from your crontab" in removed.stderr
    assert "labship.toml still schedules it" in removed.stderr


def test_console_output_is_masked(make_project: MakeProject, fake_crontab: Path) -> None:
    stream = io.StringIO()
    project = _project(make_project)
    api.schedule(project, "hello", cron="@hourly", console=Console(stream=stream))
    assert SECRET not in stream.getvalue()


def test_a_percent_or_a_blank_in_the_path_is_escaped_for_cron(make_project: MakeProject) -> None:
    project = _project(make_project)
    odd = Project(Path("/srv/50% off/demo"), project.settings)
    entry = _entry(odd, project.job("hello"), "0 1 * * *")
    assert entry.line == "0 1 * * * /bin/sh '/srv/50\\% off/demo/.labship/cron/hello.sh'"


def test_a_missing_profile_is_said_before_anything_is_written(
    make_project: MakeProject, fake_crontab: Path
) -> None:
    root = make_project(env_prod=None)
    before = (root / "labship.toml").read_text()
    code, err = _cli(root, "hello", "--cron", "0 1 * * *")
    assert code == 64 and len(err) == 1 and "'prod'" in err[0], err
    assert (root / "labship.toml").read_text() == before and not fake_crontab.exists()
