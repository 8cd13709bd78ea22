"""The run log: one JSON line per run in ``.labship/runs.jsonl``, appended, never rewritten.

``outcome`` is empty for a run that ran (its exit code says how it went); a scheduled run
that did not run or was stopped says why: ``skipped`` (the previous run still held the
job's lock) or ``timeout`` (stopped after the job's timeout). The wrapper ``labship
schedule`` installs writes those; ``labship run`` writes the others.

The log is state labship does not trust when reading it back: a line cut by a crash,
edited by hand, written by another version or holding bytes that are not UTF-8 is
skipped, and counted so ``labship runs`` can say so; the other lines still count.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

from labship import state
from labship.atomicfile import append_line
from labship.console import columns
from labship.inputs import read_bytes

LOG_NAME = state.RUNS


@dataclass(frozen=True)
class RunRecord:
    job: str
    profile: str
    runtime: str
    start: str
    duration_s: float
    exit_code: int
    lock_hash: str
    git_commit: str | None
    outcome: str = ""
    signal: str | None = None  # the signal labship passed on to the job (SIGTERM, ...)
    killed: bool = False  # the job outlived its stop_timeout and was killed
    mlflow_run_id: str | None = None  # the MLflow run the job logged ([services] mlflow)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        if not self.outcome:
            del data["outcome"]  # the lines of ordinary runs stay as they were
        if self.mlflow_run_id is None:
            del data["mlflow_run_id"]
        return data


@dataclass(frozen=True)
class RunLog:
    records: list[RunRecord]
    skipped: int  # lines that are not a record


def append(state_dir: Path, record: RunRecord) -> None:
    state_dir.mkdir(exist_ok=True)
    line = json.dumps(record.to_json(), separators=(",", ":")) + "\n"
    # One write of a short line in append mode: concurrent runs do not interleave.
    append_line(state.at(state_dir).runs, line)


def read(state_dir: Path) -> RunLog:
    """Every record that reads back whole; an unreadable log is an empty one."""
    try:
        data = read_bytes(state.at(state_dir).runs)
    except FileNotFoundError:
        return RunLog([], 0)
    except OSError:
        return RunLog([], 1)
    records: list[RunRecord] = []
    skipped = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        record = _record(line)
        if record is None:
            skipped += 1
        else:
            records.append(record)
    return RunLog(records, skipped)


_TYPES: dict[str, tuple[type, ...]] = {
    "job": (str,),
    "profile": (str,),
    "runtime": (str,),
    "start": (str,),
    "duration_s": (int, float),
    "exit_code": (int,),
    "lock_hash": (str,),
    "git_commit": (str, type(None)),
    "outcome": (str,),
    "signal": (str, type(None)),
    "killed": (bool,),
    "mlflow_run_id": (str, type(None)),
}
_REQUIRED = {f.name for f in fields(RunRecord) if f.default is MISSING}


def _record(line: bytes) -> RunRecord | None:
    """One line as a record, or None when any field is missing or of the wrong type.
    Keys labship does not know (a newer version's) are ignored."""
    try:
        data = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or not data.keys() >= _REQUIRED:
        return None
    known = {key: data[key] for key in _TYPES if key in data}
    for key, value in known.items():
        bad_bool = isinstance(value, bool) and bool not in _TYPES[key]
        if bad_bool or not isinstance(value, _TYPES[key]):
            return None
    if not math.isfinite(known["duration_s"]):
        return None
    return RunRecord(**known)


def _exit(record: RunRecord) -> str:
    """The exit code, and what labship did to the job, if anything."""
    if record.killed:
        return f"{record.exit_code} ({record.signal or 'signal'}, killed)"
    return f"{record.exit_code} ({record.signal})" if record.signal else str(record.exit_code)


def table(records: list[RunRecord]) -> str:
    """The runs as columns; an ``mlflow run`` column once any run logged one."""
    tracked = any(r.mlflow_run_id for r in records)
    head = ("start", "job", "profile", "runtime", "duration", "exit", "lock", "commit")
    rows = [
        (
            r.start,
            r.job,
            r.profile,
            r.runtime,
            f"{r.duration_s:.1f}s",
            f"{_exit(r)} {r.outcome}".rstrip(),
            r.lock_hash[:12],
            (r.git_commit or "-")[:12],
            *([r.mlflow_run_id or "-"] if tracked else []),
        )
        for r in records
    ]
    return columns([(*head, *(["mlflow run"] if tracked else [])), *rows])
