"""The import check: every direct dependency must import in a new environment before it
is used. A set can install and still not work (a wheel built for NumPy 1.x beside numpy
2, a package older than the Python, a system library missing), and nothing else would
say so before the job died.

Where it runs: the store calls it on an environment built aside, before the rename (a
failure leaves everything as it was); images run the same probe as a RUN step after the
install, where the system packages are (``stage`` puts it in the build context).

What it checks: the spec's requirements (for the dev set, plus the [lab] packages) minus
``[check] skip_imports``. The spec, not the lock, says which packages are direct; it is the
lock's own input, and a build only starts from a lock that matches it. Which modules a
distribution provides comes from its installed metadata, inside the environment
(``probe.py``), in a process of the environment's own python.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship.envcheck.diagnose import Context, Failure, Where, explain
from labship.envcheck.probe import MARKER, normal
from labship.errors import ImportCheckError, ToolError

if TYPE_CHECKING:
    from labship.console import Console
    from labship.locking import Lock
    from labship.project import Project

PROBE = Path(__file__).with_name("probe.py")
SHOWN = 5  # optional parts warned about one by one
PARALLEL = 4  # probe processes at most (one per core below that)
TIMEOUT = 600.0  # seconds for all imports together: an import that hangs is a failure too
_EVENT = re.compile(re.escape(MARKER) + r" (\{.*\})\s*$")
_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


def names(project: Project, *, dev: bool) -> list[str]:
    """The distributions to check: the spec's requirements (plus [lab] packages for dev)
    by canonical name, in order, minus [check] skip_imports."""
    from labship.spec import read_spec

    wanted = list(read_spec(project.spec_path).requirements)
    wanted += list(project.settings.lock_dev_packages) if dev else []
    skip = {normal(n) for n in project.settings.skip_imports}
    out: list[str] = []
    for text in wanted:
        found = _NAME.match(text)  # PEP 508: the name comes first (packaging costs ~40 ms)
        name = normal(found.group(1)) if found else ""
        if name and name not in skip and name not in out:
            out.append(name)
    return out


def check_environment(
    project: Project,
    lock: Lock,
    env: Path,
    *,
    dev: bool,
    native: tuple[Sequence[str], Mapping[str, str]] = ((), {}),
    console: Console | None = None,
) -> None:
    """Import every direct dependency with ``env``'s python; ImportCheckError names each
    one whose main module fails. An optional part that fails (a GUI module missing its
    system library) is a warning on ``console``. The environment's bytecode is compiled
    when uv installs it, so this only imports."""
    wanted = names(project, dev=dev)
    if not wanted:
        return
    # One process per core, each importing its share: what two distributions share
    # (numpy) is imported twice, but the wall time is the longest share, not the sum.
    count = max(1, min(len(wanted), os.cpu_count() or 1, PARALLEL))
    shares = [wanted[i::count] for i in range(count)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        found = [f for share in pool.map(lambda s: _probe(env, s, native), shares) for f in share]
    found.sort(key=lambda f: wanted.index(f.dist) if f.dist in wanted else len(wanted))
    if not found:
        return
    ctx = context(project, lock, "local", dev=dev)
    warn(found, ctx, console)
    refused = [f for f in found if f.main]
    if refused:
        label = "dev" if dev else "prod"
        what = f"the {label} environment {lock.hash(dev=dev)[:16]} was not put in place"
        raise error(refused, what=what, context=ctx)


def warn(found: list[Failure], ctx: Context, console: Console | None) -> None:
    """A line for each optional part that did not import, with its cause (five at most,
    then how many more): the distribution's main module imports, so nothing is refused."""
    optional = [f for f in found if not f.main]
    if not optional or console is None:
        return
    for f in optional[:SHOWN]:
        console.warn(
            f"{f.dist} {f.version}: its optional part {f.module} does not import (its main "
            f"module does): {explain(f, ctx)}"
        )
    if len(optional) > SHOWN:
        console.warn(f"... and {len(optional) - SHOWN} more optional parts do not import")


def _probe(
    env: Path, wanted: list[str], native: tuple[Sequence[str], Mapping[str, str]]
) -> list[Failure]:
    """Run the probe on ``wanted`` with ``env``'s python: the failures it reports."""
    paths, extra = native
    variables = {**os.environ, "VIRTUAL_ENV": str(env), **extra}  # as a job gets it
    variables["PATH"] = os.pathsep.join([str(env / "bin"), *paths, os.environ.get("PATH", "")])
    argv = [str(env / "bin" / "python"), "-I", str(PROBE), "-"]
    try:
        proc = subprocess.run(
            argv,
            input=json.dumps({"names": wanted}),
            capture_output=True,
            text=True,
            errors="replace",
            env=variables,
            cwd=env,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""  # bytes on POSIX even with text=True
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        return failures(out, ended=f"did not finish importing within {TIMEOUT:.0f} s")
    found = failures(proc.stdout, ended=_death(proc.returncode))
    if not found and proc.returncode != 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-1:]) or f"exit {proc.returncode}"
        raise ToolError(f"the import check could not run in {env}: {tail}")
    return found


def _death(code: int) -> str:
    if code < 0:
        try:
            return f"the interpreter died ({signal.Signals(-code).name}) while importing it"
        except ValueError:
            pass
    return f"the check stopped (exit {code}) while importing it"


def _events(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        found = _EVENT.search(line)
        if found:
            try:
                event = json.loads(found.group(1))
            except ValueError:
                continue
            if isinstance(event, dict):
                yield event


def failures(output: str, *, ended: str) -> list[Failure]:
    """The failed imports in the probe's output, the first of each distribution. With no
    'done' line, the module it had started on is a failure too (``ended`` says why)."""
    found: dict[str, Failure] = {}
    started: dict[str, Any] | None = None
    done = False
    for event in _events(output):
        kind = event.get("event")
        if kind == "start":
            started = event
        elif kind == "failed":
            started = None
            key = f"{event.get('dist')}:{event.get('main', True)}"
            found.setdefault(key, _failure(event, event.get("type", "")))
        elif kind == "done":
            done = True
    if not done and started is not None:  # the interpreter died: that refuses, always
        crashed = {**started, "message": ended, "main": True}
        found.setdefault(f"{started.get('dist')}:True", _failure(crashed, ""))
    return list(found.values())


def _failure(event: dict[str, Any], kind: object) -> Failure:
    return Failure(
        dist=str(event.get("dist", "?")),
        version=str(event.get("version", "?")),
        module=str(event.get("module", "?")),
        type=str(kind),
        message=str(event.get("message", "")),
        main=bool(event.get("main", True)),
    )


def context(project: Project, lock: Lock, where: Where, *, dev: bool) -> Context:
    from labship.errors import LabshipError

    try:
        versions = lock.dev if dev else lock.prod
    except LabshipError:  # an unreadable lock: advice without its versions
        versions = {}
    return Context(where, project.settings.spec, lock.python, versions.get("numpy"), versions)


def error(found: list[Failure], *, what: str, context: Context) -> ImportCheckError:
    """One line of what happened, then one line per package: cause and fix."""
    count = len(found)
    deps = "direct dependency does" if count == 1 else "direct dependencies do"
    lines = [f"{what}: {count} {deps} not import"]
    lines += [f"  {f.dist} {f.version} (import {f.module}): {explain(f, context)}" for f in found]
    return ImportCheckError("\n".join(lines))


# ---------------------------------------------------------------- images


def stage(project: Project, folder: Path) -> None:
    """The probe and each image target's names, for the Dockerfile's check step."""
    folder.mkdir()
    shutil.copyfile(PROBE, folder / "probe.py")
    for target in ("prod", "dev"):
        request = {"names": names(project, dev=target == "dev")}
        (folder / f"{target}.json").write_text(json.dumps(request) + "\n", encoding="utf-8")


def image_error(project: Project, lock: Lock, target: str, log: str) -> ImportCheckError | None:
    """The import check's failures in a build log, as one error; None if it did not fail."""
    found = [f for f in failures(log, ended="the check stopped while importing it") if f.main]
    if not found:
        return None
    what = f"the {target} image was not built (the previous one is unchanged)"
    return error(found, what=what, context=context(project, lock, "image", dev=target == "dev"))
