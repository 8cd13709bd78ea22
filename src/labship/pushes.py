"""The push log: one JSON line per ``labship push`` in ``.labship/pushes.jsonl``.

It answers "which image did this project last ship?" by digest, for the targets that
run it elsewhere (cron, Airflow, Kubernetes): ``last_pushed(project).ref`` is
``registry/name@sha256:...``, which no later push can move. The file is appended to,
never rewritten, and never trusted: a line that is not a whole, well-formed record is
skipped, as in the run log.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship import jsonlines, state

if TYPE_CHECKING:
    from labship.project import Project

LOG_NAME = state.PUSHES
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class PushRecord:
    image: str  # registry/name, e.g. 127.0.0.1:5000/team/churn
    digest: str  # sha256:...
    tags: tuple[str, ...]  # the tags that now name it there: 0.1.0, 0.1.0-<commit>, prod-<lock>
    git_commit: str | None
    lock_hash: str
    time: str  # UTC, ISO 8601
    uploaded: bool = True  # False: the registry already held it under every tag

    @property
    def ref(self) -> str:
        """The image pinned by digest: what another machine should run."""
        return f"{self.image}@{self.digest}"

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data


def _record(data: Any) -> PushRecord | None:
    """A record from one parsed line; None unless every field has its type."""
    if not isinstance(data, dict) or not isinstance(data.get("tags"), list):
        return None
    try:
        record = PushRecord(**{**data, "tags": tuple(data["tags"])})
    except TypeError:
        return None
    fields_ok = (
        isinstance(record.image, str)
        and record.image
        and isinstance(record.digest, str)
        and _DIGEST.fullmatch(record.digest)
        and all(isinstance(t, str) for t in record.tags)
        and isinstance(record.git_commit, str | None)
        and isinstance(record.lock_hash, str)
        and isinstance(record.time, str)
        and isinstance(record.uploaded, bool)
    )
    return record if fields_ok else None


def append(state_dir: Path, record: PushRecord) -> None:
    jsonlines.append(state.at(state_dir).pushes, record.to_json())


def read(state_dir: Path) -> list[PushRecord]:
    """Every well-formed record, oldest first."""
    found = (_record(data) for data in jsonlines.read(state.at(state_dir).pushes))
    return [record for record in found if record is not None]


def last_pushed(project: Project, image: str | None = None) -> PushRecord | None:
    """The project's most recent push (to ``image``, a registry/name, when given)."""
    for record in reversed(read(project.state_dir)):
        if image is None or record.image == image:
            return record
    return None


def run_commands(
    ref: str, jobs: Mapping[str, Sequence[str]], profile: str = "prod"
) -> list[tuple[str, str]]:
    """(job, command) pairs that run exactly ``ref`` elsewhere: with docker alone, then
    with labship (which reads the job list from the image), shell-quoted."""
    env_file = f".env_{profile}"
    out = [
        (name, shlex.join(["docker", "run", "--rm", "--env-file", env_file, ref, *argv]))
        for name, argv in jobs.items()
    ]
    out += [
        (name, shlex.join(["labship", "run", "--image", ref, name, "--profile", profile]))
        for name in jobs
    ]
    return out


__all__ = ["LOG_NAME", "PushRecord", "append", "last_pushed", "read", "run_commands"]
