"""Helpers for the Docker tests (no fixtures here: the shared conftest wires them).

``write_project`` writes a tiny labship project; ``make_lock`` writes its two PEP 751
lock files with real ``uv lock`` + ``uv export`` (one resolution, as labship.locking does)
and returns the ``Lock`` for them, independent of ``labship.locking.lock``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from labship.locking import TOOL_TABLE, Lock
from labship.project import Project, load_project
from labship.tools.docker import docker, engine_available
from labship.tools.uv import uv_bin, uv_env

LOCAL_BASE = "local/python:3.11-slim"


def docker_skip_reason() -> str | None:
    """Why the real-engine tests cannot run here, or None."""
    reason = engine_available()
    if reason is not None:
        return reason
    if docker(["image", "inspect", LOCAL_BASE], console=None, check=False).returncode != 0:
        return f"base image {LOCAL_BASE} missing (run scripts/engine-up.sh)"
    return None


def write_project(
    root: Path,
    *,
    name: str = "demo",
    system_packages: Sequence[str] = (),
    lab_packages: Sequence[str] = ("iniconfig==2.0.0",),
    extra_toml: str = "",
) -> Project:
    (root / "code").mkdir(parents=True, exist_ok=True)
    (root / "notebooks").mkdir(exist_ok=True)
    (root / "labship.toml").write_text(
        f'[project]\nname = "{name}"\npython = "3.11"\nspec = "requirements.txt"\n'
        '[jobs.hello]\ncommand = "python code/hello.py"\n'
        f"[lab]\npackages = {list(lab_packages)!r}\n"
        f"[docker]\nsystem_packages = {list(system_packages)!r}\n{extra_toml}",
        encoding="utf-8",
    )
    (root / "code" / "hello.py").write_text("print('hello')\n", encoding="utf-8")
    # the spec (make_lock writes the one it locks): the import check reads its names
    (root / "requirements.txt").write_text("six==1.16.0\n", encoding="utf-8")
    (root / "notebooks" / "explore.ipynb").write_text("{}\n", encoding="utf-8")
    return load_project(root)


def make_lock(project: Project, requirements: Sequence[str]) -> Lock:
    """Lock ``requirements`` (prod) and the project's [lab] packages (dev) with uv."""
    root = project.root
    dev = list(project.settings.dev_packages)
    (root / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    with tempfile.TemporaryDirectory(prefix="labship-test-lock-") as tmp:
        Path(tmp, "pyproject.toml").write_text(
            f'[project]\nname = "{project.name}-env"\nversion = "0"\n'
            f'requires-python = "==3.11.*"\ndependencies = {list(requirements)!r}\n'
            f"[dependency-groups]\ndev = {dev!r}\n"
            "[tool.uv]\npackage = false\n"
            "environments = [\"sys_platform == 'linux' and platform_machine == 'x86_64'\"]\n",
            encoding="utf-8",
        )
        env = uv_env()
        subprocess.run([uv_bin(), "lock", "--directory", tmp, "-q"], env=env, check=True)
        for out, flags in (("pylock.toml", ["--no-dev"]), ("pylock.dev.toml", ["--all-groups"])):
            target = str(Path(tmp) / out)
            argv = [uv_bin(), "export", "--directory", tmp, "--frozen", "--no-header", "-q"]
            argv += [*flags, "--format", "pylock.toml", "-o", target]
            subprocess.run(argv, env=env, check=True)
            body = Path(tmp, out).read_text(encoding="utf-8").rstrip("\n") + "\n"
            table = f'{TOOL_TABLE}python = "3.11"\nresolved_at = "{os.urandom(4).hex()}"\n'
            (root / out).write_text(body + table, encoding="utf-8")
    bodies = [
        (root / n).read_text(encoding="utf-8").partition(TOOL_TABLE)[0]
        for n in ("pylock.toml", "pylock.dev.toml")
    ]
    prod_hash, dev_hash = (hashlib.sha256(b.encode()).hexdigest() for b in bodies)
    return Lock(
        root=root,
        python="3.11",
        prod_path=root / "pylock.toml",
        dev_path=root / "pylock.dev.toml",
        prod_hash=prod_hash,
        dev_hash=dev_hash,
        meta={"python": "3.11"},
    )
