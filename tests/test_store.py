"""The environment store against the real uv and the real package index.

One environment per lock content, hard-linked from uv's cache; built aside and renamed
into place so a killed build never damages the working one; ``labship gc``; a missing
interpreter is a clear error, never a download.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from conftest import MakeProject, labship
from labship.tools.uv import uv_bin, uv_env

pytestmark = pytest.mark.slow

HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
T = TypeVar("T")


# ------------------------------------------------------------------------------ helpers


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store of this test's own: it counts and deletes environments."""
    root = tmp_path / "store"
    monkeypatch.setenv("LABSHIP_STORE", str(root))
    return root


def env_name(root: Path) -> str:
    """The store key of a project's prod lock: sha256 of the content above [tool.labship]."""
    body = (root / "pylock.toml").read_text(encoding="utf-8").partition("\n[tool.labship]\n")[0]
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def env_dirs(store: Path) -> list[Path]:
    envs = store / "envs"
    return sorted(p for p in envs.iterdir() if not p.name.startswith(".")) if envs.is_dir() else []


def builds(store: Path) -> list[Path]:
    return sorted((store / "envs").glob(".build-*"))


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.005)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def env_python(env: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Use an environment directly, without labship."""
    return subprocess.run(
        [str(env / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


def error_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("labship: error: ")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def set_requirements(root: Path, text: str) -> None:
    (root / "requirements.txt").write_text(text)
    labship("lock", cwd=root, check=True)


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (e.g. an orphaned uv)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def _size_in_bytes(number: str, unit: str) -> float:
    return float(number) * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[unit]


# ------------------------------------------------------------ one env per lock content


def test_projects_with_the_same_lock_share_one_environment(
    make_project: MakeProject, store: Path
) -> None:
    alpha, beta = make_project("alpha"), make_project("beta")
    for root in (alpha, beta):
        labship("lock", cwd=root, check=True)
    assert env_name(alpha) == env_name(beta)

    first = labship("run", cwd=alpha, check=True)
    second = labship("run", cwd=beta, check=True)
    assert "six 1.16.0" in first.stdout and "six 1.16.0" in second.stdout
    assert "building the prod environment" in first.stderr
    assert "building" not in second.stderr, "the second project rebuilt a shared environment"

    assert [e.name for e in env_dirs(store)] == [env_name(alpha)]
    assert builds(store) == []
    registered = sorted(p.read_text() for p in (store / "projects").glob("*.json"))
    assert len(registered) == 2
    assert any(str(alpha) in r for r in registered) and any(str(beta) in r for r in registered)

    # A different lock content is a different environment.
    set_requirements(beta, "six==1.17.0\n")
    assert "six 1.17.0" in labship("run", cwd=beta, check=True).stdout
    assert {e.name for e in env_dirs(store)} == {env_name(alpha), env_name(beta)}


def test_packages_are_hard_linked_from_uv_cache(make_project: MakeProject, store: Path) -> None:
    root = make_project()
    labship("lock", cwd=root, check=True)
    labship("run", cwd=root, check=True)
    cache = Path(
        subprocess.run(
            [uv_bin(), "cache", "dir"], capture_output=True, text=True, env=uv_env(), check=True
        ).stdout.strip()
    )
    (env,) = env_dirs(store)
    (six_py,) = env.glob("lib/python3.*/site-packages/six.py")
    if os.stat(cache).st_dev != os.stat(store).st_dev:
        pytest.skip(f"uv's cache ({cache}) and the store are on different filesystems")
    st = six_py.stat()
    assert st.st_nlink > 1, "six.py was copied, not hard-linked"
    in_cache = [p for p in cache.glob("archive-v0/*/six.py") if p.stat().st_ino == st.st_ino]
    assert in_cache, "six.py is hard-linked, but not to uv's cache"


# ------------------------------------------------------------------- atomic creation


@pytest.mark.parametrize(
    ("sig", "cleanup"),
    [(signal.SIGTERM, "run"), (signal.SIGKILL, "run"), (signal.SIGKILL, "gc")],
    ids=["SIGTERM", "SIGKILL-then-run", "SIGKILL-then-gc"],
)
def test_killed_build_leaves_previous_environment_working(
    make_project: MakeProject, store: Path, tmp_path: Path, sig: signal.Signals, cleanup: str
) -> None:
    root = make_project("atomic")
    labship("lock", cwd=root, check=True)
    labship("run", cwd=root, check=True)
    old = store / "envs" / env_name(root)
    assert (old / ".labship-env.json").is_file()

    set_requirements(root, "six==1.16.0\npandas==2.2.3\n")
    new_name = env_name(root)
    assert new_name != old.name
    # A cold uv cache of the test's own: the install downloads, so it takes seconds.
    proc = subprocess.Popen(
        [sys.executable, "-m", "labship", "run"],
        cwd=root,
        env={**os.environ, "UV_CACHE_DIR": str(tmp_path / "cold-uv-cache")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The venv exists aside: uv is now installing into it.
        python = wait_for(
            lambda: next((store / "envs").glob(f".build-{new_name}-*/bin/python"), None),
            timeout=120,
            what="the new environment's build directory",
        )
        build = python.parent.parent
        assert f"-{proc.pid}-" in build.name
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    if sig == signal.SIGTERM:
        assert proc.returncode == 130, err
        assert "stopped by SIGTERM" in err
        assert builds(store) == [], "SIGTERM left a half-built environment behind"
        assert processes_mentioning(str(build)) == [], "uv outlived labship"
    else:
        assert proc.returncode == -signal.SIGKILL
        assert build.is_dir(), "nothing could have removed the build of a SIGKILLed labship"
        # Its uv child outlives it; stop that one too, as a machine reset would.
        for pid in processes_mentioning(str(build)):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not processes_mentioning(str(build)), timeout=30, what="uv to exit")
        (build / "SENTINEL").write_text("this build was abandoned")
    assert "six 1.16.0" not in out, "the job ran although its environment was never built"

    # The previous environment is whole and works on its own; the new one does not exist.
    assert not (store / "envs" / new_name).exists()
    assert [e.name for e in env_dirs(store)] == [old.name]
    checked = env_python(old, "import six; print(six.__version__)")
    assert checked.returncode == 0 and checked.stdout.strip() == "1.16.0", checked.stderr
    assert env_python(old, "import pandas").returncode != 0, "the old environment was changed"

    if cleanup == "gc":
        # gc removes the abandoned build, and the old environment no lock refers to now.
        found, _ = gc(cwd=tmp_path)
        assert found.group(1, 2) == ("removed", "2"), found.group(0)
        assert builds(store) == [] and env_dirs(store) == []

    # The next build removes what a killed one left, and never uses it.
    again = labship("run", cwd=root, check=True)
    assert "six 1.16.0" in again.stdout
    new = store / "envs" / new_name
    assert builds(store) == []
    assert not (new / "SENTINEL").exists(), "an abandoned build was put into service"
    version = env_python(new, "import pandas; print(pandas.__version__)")
    assert version.stdout.strip() == "2.2.3", version.stderr
    expected = {new_name} if cleanup == "gc" else {old.name, new_name}
    assert {e.name for e in env_dirs(store)} == expected


# -------------------------------------------------------------------------------- gc

GC_LINE = re.compile(
    r"(removed|would remove) (\d+) environment\(s\), freed ([\d.]+) (B|KB|MB|GB)"
    r".*kept (\d+) in use by projects(?:, (\d+) busy)?"
)
HOLD_JOB = """\
import pathlib, time
pathlib.Path(".hold-started").write_text("1")
deadline = time.monotonic() + 120
while not pathlib.Path(".hold-release").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
import six
print("held six", six.__version__)
"""


def gc(*args: str, cwd: Path) -> tuple[re.Match[str], subprocess.CompletedProcess[str]]:
    proc = labship("gc", *args, cwd=cwd, check=True)
    found = GC_LINE.search(proc.stderr)
    assert found, proc.stderr
    return found, proc


def _own_bytes(env: Path) -> int:
    """What removing ``env`` frees: files and symlinks not hard-linked elsewhere (uv's cache)."""
    seen, total = set(), 0
    for path in env.rglob("*"):
        st = path.lstat()
        if (path.is_dir() and not path.is_symlink()) or st.st_ino in seen:
            continue
        seen.add(st.st_ino)
        if st.st_nlink == 1:
            total += st.st_size
    return total


def test_gc_removes_unreferenced_environments_only(
    make_project: MakeProject, store: Path, tmp_path: Path
) -> None:
    root = make_project(jobs={"hello": "python code/hello.py", "hold": "python code/hold.py"})
    (root / "code" / "hold.py").write_text(HOLD_JOB)
    labship("lock", cwd=root, check=True)
    labship("run", "hello", cwd=root, check=True)
    old = store / "envs" / env_name(root)

    # A job holds the old environment while the project moves on to a new one.
    holder = subprocess.Popen(
        [sys.executable, "-m", "labship", "run", "hold"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (root / ".hold-started").exists(), timeout=60, what="the held job")
        set_requirements(root, "six==1.17.0\n")
        assert "six 1.17.0" in labship("run", "hello", cwd=root, check=True).stdout
        current = store / "envs" / env_name(root)
        assert {e.name for e in env_dirs(store)} == {old.name, current.name}

        busy, _ = gc(cwd=tmp_path)
        assert busy.group(1, 2, 6) == ("removed", "0", "1"), busy.group(0)
        assert old.is_dir() and current.is_dir()
    finally:
        (root / ".hold-release").write_text("1")
        out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err
    assert "held six 1.16.0" in out

    expected = _own_bytes(old)
    dry, _ = gc("--dry-run", cwd=tmp_path)
    assert dry.group(1, 2) == ("would remove", "1"), dry.group(0)
    assert old.is_dir() and current.is_dir(), "--dry-run removed something"

    done, _ = gc(cwd=tmp_path)
    assert done.group(1, 2, 5) == ("removed", "1", "1"), done.group(0)
    assert done.group(6) is None
    freed = _size_in_bytes(done.group(3), done.group(4))
    assert expected > 0
    # The report is rounded to one decimal of its unit.
    unit = _size_in_bytes("1", done.group(4))
    assert abs(freed - expected) <= 0.05 * unit + 1, (done.group(0), expected)
    assert float(dry.group(3)) == float(done.group(3)) and dry.group(4) == done.group(4)

    assert [e.name for e in env_dirs(store)] == [current.name]
    assert not list((store / "envs").glob(".trash-*"))
    assert "six 1.17.0" in labship("run", "hello", cwd=root, check=True).stdout
    nothing, proc = gc(cwd=tmp_path)
    assert nothing.group(1, 2) == ("removed", "0"), proc.stderr
    assert [e.name for e in env_dirs(store)] == [current.name]


def test_gc_forgets_deleted_projects(
    make_project: MakeProject, store: Path, tmp_path: Path
) -> None:
    import shutil

    root = make_project()
    labship("lock", cwd=root, check=True)
    labship("run", cwd=root, check=True)
    (env,) = env_dirs(store)
    found, _ = gc(cwd=tmp_path)
    assert found.group(2) == "0" and env.is_dir()
    shutil.rmtree(root)
    found, _ = gc(cwd=tmp_path)
    assert found.group(1, 2) == ("removed", "1")
    assert env_dirs(store) == []
    assert list((store / "projects").glob("*.json")) == []


# ---------------------------------------------------------------- missing interpreter

MISSING_CANDIDATES = ("3.9", "3.14", "3.8", "3.10", "3.12", "3.13", "3.15")


def python_absent(version: str) -> bool:
    """Absent for labship: pyenv's versions count even when no shim selects them."""
    from labship.tools.uv import find_python

    return find_python(version) is None


def managed_pythons() -> list[str]:
    where = subprocess.run(
        [uv_bin(), "python", "dir"], capture_output=True, text=True, env=uv_env(), check=True
    ).stdout.strip()
    path = Path(where)
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else []


def _use_python(root: Path, version: str) -> None:
    config = root / "labship.toml"
    text = config.read_text()
    assert f'python = "{HOST_PYTHON}"' in text
    config.write_text(text.replace(f'python = "{HOST_PYTHON}"', f'python = "{version}"'))


@pytest.mark.parametrize("candidates", [("3.9", "3.8", "3.5"), ("3.14", "3.15", "3.19")])
def test_lock_for_a_missing_python_fails_clearly(
    make_project: MakeProject, candidates: tuple[str, ...]
) -> None:
    """An old and a new version this machine does not have (never skipped: the first of
    the candidates that is absent)."""
    version = next(v for v in candidates if python_absent(v))
    root = make_project()
    _use_python(root, version)
    before = managed_pythons()
    started = time.monotonic()
    proc = labship("lock", cwd=root)
    elapsed = time.monotonic() - started
    line = error_line(proc, 69)
    assert f"Python {version} is not installed" in line
    assert "labship never downloads interpreters" in line
    assert elapsed < 30, f"took {elapsed:.0f}s: was something downloaded?"
    assert managed_pythons() == before
    assert not (root / "pylock.toml").exists()


def test_run_with_a_lock_for_a_missing_python_fails_clearly(
    make_project: MakeProject, store: Path
) -> None:
    """A teammate locked for a Python this machine lacks: run says so and downloads nothing."""
    version = next((v for v in MISSING_CANDIDATES if python_absent(v)), None)
    if version is None:
        pytest.skip(f"every one of {MISSING_CANDIDATES} is installed here")
    from labship.locking import input_digest, inputs_hash
    from labship.project import load_project
    from labship.spec import read_spec

    root = make_project()
    labship("lock", cwd=root, check=True)
    _use_python(root, version)
    project = load_project(root)
    spec = read_spec(project.spec_path)
    inputs = inputs_hash(spec, version, project.settings.dev_packages)
    digest = input_digest(project, version)
    for name in ("pylock.toml", "pylock.dev.toml"):
        path = root / name
        text = path.read_text()
        text = text.replace(
            f'requires-python = "=={HOST_PYTHON}.*"', f'requires-python = "=={version}.*"'
        )
        text = re.sub(r'(?m)^python = ".*"$', f'python = "{version}"', text)
        text = re.sub(r'(?m)^inputs = ".*"$', f'inputs = "{inputs}"', text)
        text = re.sub(r'(?m)^inputs-digest = ".*"$', f'inputs-digest = "{digest}"', text)
        path.write_text(text)
    assert labship("lock", "--check", cwd=root).returncode == 0, "the forged lock is stale"

    before = managed_pythons()
    started = time.monotonic()
    proc = labship("run", cwd=root)
    elapsed = time.monotonic() - started
    line = error_line(proc, 69)
    assert f"Python {version} is not installed" in line, line
    assert elapsed < 30, f"took {elapsed:.0f}s: was something downloaded?"
    assert managed_pythons() == before
    assert env_dirs(store) == [] and builds(store) == []
    assert "six" not in proc.stdout
