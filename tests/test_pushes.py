"""The push log: records round-trip, a damaged file costs only its damaged lines, and
``last_pushed`` gives the digest reference other targets run."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from pathlib import Path

from labship import pushes
from labship.project import Project, Settings
from labship.pushes import PushRecord

DIGEST = "sha256:" + "ab" * 32
RECORD = PushRecord(
    image="127.0.0.1:5000/team/churn",
    digest=DIGEST,
    tags=("0.1.0", "0.1.0-0123456789ab", "prod-ba9876543210"),
    git_commit="0123456789ab" + "0" * 28,
    lock_hash="ba9876543210" + "f" * 52,
    time="2026-11-29T01:00:00Z",
)


def _project(tmp_path: Path) -> Project:
    return Project(root=tmp_path, settings=Settings(name="churn"))


def test_records_round_trip_and_the_ref_pins_the_digest(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert pushes.last_pushed(project) is None  # nothing pushed yet, no file
    pushes.append(project.state_dir, RECORD)
    skipped = replace(RECORD, uploaded=False, time="2026-11-29T02:00:00Z")
    pushes.append(project.state_dir, skipped)
    assert pushes.read(project.state_dir) == [RECORD, skipped]
    last = pushes.last_pushed(project)
    assert last == skipped
    assert last.ref == f"127.0.0.1:5000/team/churn@{DIGEST}"
    line = (project.state_dir / pushes.LOG_NAME).read_text().splitlines()[0]
    assert json.loads(line) == {**RECORD.to_json(), "tags": list(RECORD.tags)}


def test_last_pushed_to_one_registry(tmp_path: Path) -> None:
    project = _project(tmp_path)
    other = replace(RECORD, image="registry.example.com/churn")
    pushes.append(project.state_dir, RECORD)
    pushes.append(project.state_dir, other)
    assert pushes.last_pushed(project) == other
    assert pushes.last_pushed(project, "127.0.0.1:5000/team/churn") == RECORD
    assert pushes.last_pushed(project, "elsewhere/churn") is None


def test_malformed_lines_are_skipped_not_fatal(tmp_path: Path) -> None:
    project = _project(tmp_path)
    good = json.dumps(RECORD.to_json())
    bad = [
        good[: len(good) // 2],  # cut short by a crash
        "not json at all \udcff",
        "[]",
        "null",
        json.dumps({**RECORD.to_json(), "digest": "sha256:short"}),
        json.dumps({**RECORD.to_json(), "tags": "0.1.0"}),  # a string, not a list
        json.dumps({**RECORD.to_json(), "tags": [1, 2]}),
        json.dumps({**RECORD.to_json(), "uploaded": "yes"}),
        json.dumps({**RECORD.to_json(), "extra": 1}),
        json.dumps({k: v for k, v in RECORD.to_json().items() if k != "image"}),
        json.dumps({**RECORD.to_json(), "image": ""}),
    ]
    project.state_dir.mkdir()
    text = "\n".join([good, *bad, good]) + "\n"
    (project.state_dir / pushes.LOG_NAME).write_text(text, errors="surrogateescape")
    assert pushes.read(project.state_dir) == [RECORD, RECORD]


def test_a_state_path_that_is_a_file_is_nothing_pushed(tmp_path: Path) -> None:
    (tmp_path / ".labship").write_text("not a folder")
    assert pushes.last_pushed(_project(tmp_path)) is None


def test_run_commands_are_pinned_and_shell_quoted() -> None:
    ref = RECORD.ref
    jobs = {"train": ("python", "code/train.py"), "odd job": ("sh", "-c", "echo 'a b' $HOME")}
    commands = pushes.run_commands(ref, jobs)
    docker = dict(c for c in commands if c[1].startswith("docker "))
    assert shlex.split(docker["odd job"]) == [
        *("docker", "run", "--rm", "--env-file", ".env_prod", ref),
        *jobs["odd job"],
    ]
    labship = [shlex.split(c) for _, c in commands if c.startswith("labship ")]
    assert labship == [
        ["labship", "run", "--image", ref, "train", "--profile", "prod"],
        ["labship", "run", "--image", ref, "odd job", "--profile", "prod"],
    ]
