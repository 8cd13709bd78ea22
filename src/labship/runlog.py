"""The run log: one JSON line per run in ``.labship/runs.jsonl``, appended, never rewritten.

``outcome`` is empty for a run that ran (its exit code says how it went); a scheduled run
that did not run or was stopped says why: ``skipped`` (the previous run still held the
job's lock) or ``timeout`` (stopped after the job's timeout). The wrapper ``labship
schedule`` installs writes those; ``labship run`` writes the others.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from labship.console import columns

LOG_NAME = "runs.jsonl"


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

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        if not self.outcome:
            del data["outcome"]  # the lines of ordinary runs stay as they were
        return data


def append(state_dir: Path, record: RunRecord) -> None:
    state_dir.mkdir(exist_ok=True)
    line = json.dumps(record.to_json(), separators=(",", ":")) + "\n"
    # One write of a short line in append mode: concurrent runs do not interleave.
    with open(state_dir / LOG_NAME, "a", encoding="utf-8") as fh:
        fh.write(line)


def read(state_dir: Path) -> list[RunRecord]:
    try:
        lines = (state_dir / LOG_NAME).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            records.append(RunRecord(**json.loads(line)))
        except (ValueError, TypeError):
            continue  # a line cut by a crash; the others stand
    return records


def table(records: list[RunRecord]) -> str:
    head = ("start", "job", "profile", "runtime", "duration", "exit", "lock", "commit")
    rows = [
        (
            r.start,
            r.job,
            r.profile,
            r.runtime,
            f"{r.duration_s:.1f}s",
            f"{r.exit_code} {r.outcome}".rstrip(),
            r.lock_hash[:12],
            (r.git_commit or "-")[:12],
        )
        for r in records
    ]
    return columns([head, *rows])
