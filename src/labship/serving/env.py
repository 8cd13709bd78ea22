"""The model's environment: its requirements.txt plus the server's few packages, locked
once by uv (PEP 751) and built in labship's content-addressed store. Nothing is
installed when the server starts, and nothing with pip.

A model with the sklearn flavour is served without mlflow: the worker unpickles the
estimator itself (``app/worker.py``), so its set is requirements.txt less mlflow, plus the
package its serialization format needs. mlflow and its dependencies (sqlalchemy, flask,
pyarrow, opentelemetry...) are most of an image and of a cold build. A python_function
model keeps mlflow: only mlflow knows how to load it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from labship.atomicfile import write_text_atomic
from labship.errors import ImportCheckError, ResolutionError
from labship.locking import Lock
from labship.store import Store

if TYPE_CHECKING:
    from labship.console import Console
    from labship.images.serve import Server
    from labship.serving.model import ModelFolder
    from labship.serving.origin import ProdPins

# What the server adds to the model's own set: fast JSON, YAML for the MLmodel file,
# pandas/numpy for the request formats (the model usually pins them; without mlflow
# nothing else would bring them), and httptools, the HTTP parser (llhttp) of app/front.py.
SERVER_REQUIREMENTS = ("orjson>=3.9", "pyyaml>=6", "pandas", "numpy", "httptools>=0.6.4")
# Left out of a sklearn model's set; what each serialization format needs to load.
MLFLOW_NAMES = frozenset({"mlflow", "mlflow-skinny"})
FORMAT_PACKAGES = {"cloudpickle": "cloudpickle", "skops": "skops"}
APP = Path(__file__).resolve().parent / "app"
PACKAGE = "labship_serve"


def server() -> Server:
    """The model server's code, as the serving image installs it."""
    from labship.images.serve import Server

    return Server(PACKAGE, APP)


def environment(
    model: ModelFolder, store: Store, *, console: Console, prod: ProdPins | None = None
) -> Path:
    """The environment's folder, built now or found in the store; with ``prod`` (the
    project's prod lock, the model being its run's), every package the two share is kept
    at the prod lock's version."""
    lock = model_lock(model, store, console=console, constraints=constraints(prod))
    env, _built = store.ensure(lock, dev=False, console=console, check=_check, label="model's")
    return env


def constraints(prod: ProdPins | None) -> tuple[str, ...]:
    """The resolution's constraints (``uv pip compile -c``): the prod lock's pins, or none."""
    return prod.pins if prod is not None else ()


def served_requirements(model: ModelFolder) -> tuple[str, ...]:
    """The model's requirements as served: without mlflow for a sklearn model (plus
    cloudpickle or skops when its format needs one and the file does not list it)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    if model.sklearn_format is None:
        return model.requirements

    def name(line: str) -> str:
        try:
            return canonicalize_name(Requirement(line).name)
        except InvalidRequirement:
            return line  # uv names the bad line when it resolves

    kept = [line for line in model.requirements if name(line) not in MLFLOW_NAMES]
    extra = FORMAT_PACKAGES.get(model.sklearn_format)
    if extra is not None and extra not in {name(line) for line in kept}:
        kept.append(extra)
    return tuple(kept)


def model_lock(
    model: ModelFolder, store: Store, *, console: Console, constraints: tuple[str, ...] = ()
) -> Lock:
    """The lock for these inputs: resolved the first time, read back ever after (the
    local runtime's environment and the serving image install this one file)."""
    served = served_requirements(model)
    inputs = "\n".join([model.python, *served, "--", *SERVER_REQUIREMENTS])
    if constraints:  # keyed apart; without constraints the key is the one it always was
        inputs += "\n-c\n" + "\n".join(constraints)
    key = hashlib.sha256(inputs.encode()).hexdigest()[:16]
    path = store.root / "serve" / f"pylock.{key}.toml"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        console.say(f"locking {model.path / 'requirements.txt'} for Python {model.python} with uv")
        requirements = "\n".join([model.python, *served, *SERVER_REQUIREMENTS])
        write_text_atomic(path, _resolve(requirements, model.python, console, constraints))
    text = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Lock(path.parent, model.python, path, path, digest, digest, {})


def _resolve(
    requirements: str, python: str, console: Console, constraints: tuple[str, ...] = ()
) -> str:
    from labship.tools.uv import uv

    lines = requirements.split("\n", 1)[1]  # the first line is the Python version
    with tempfile.TemporaryDirectory(prefix="labship-serve-") as tmp:
        source, out = Path(tmp) / "requirements.in", Path(tmp) / "pylock.toml"
        source.write_text(lines + "\n", encoding="utf-8")
        args = ["pip", "compile", "--quiet", "--no-header", "--python-version", python]
        if constraints:
            (Path(tmp) / "constraints.txt").write_text("\n".join(constraints) + "\n")
            args += ["-c", str(Path(tmp) / "constraints.txt")]
        result = uv([*args, str(source), "-o", str(out)], console=console, check=False)
        if result.returncode != 0:
            raise ResolutionError(
                f"the model's requirements cannot be resolved for Python {python}"
                + (" within the project's prod lock" if constraints else "")
                + f": {uv_reason(result.stderr, source)}",
                hint="align the project's lock and the model's requirements.txt, or serve "
                "from outside the project"
                if constraints
                else "fix requirements.txt in the model folder",
            )
        return out.read_text(encoding="utf-8")


def uv_reason(stderr: str, source: Path) -> str:
    """uv's message on one line: its error and causes, without the caret lines pointing
    into the echoed requirement, and the temporary input named as requirements.txt."""
    kept = []
    for line in stderr.splitlines():
        text = line.strip()
        if not text or set(text) <= {"^", " "} or text.startswith(("hint:", "Using ")):
            continue
        for prefix in ("error: ", "cause: ", "\u00d7 ", "╰─▶ "):
            text = text.removeprefix(prefix)
        kept.append(
            text.replace(f"`{source}`", "requirements.txt").replace(str(source), "requirements.txt")
        )
    return " ".join(kept)[:600] or "?"


def _check(env: Path) -> None:
    """The server's imports must work in the new environment before it is kept."""
    probe = "import orjson, yaml, pandas, numpy, httptools"
    done = subprocess.run(
        [str(env / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["?"]
        raise ImportCheckError(f"the model's environment cannot run the server: {last[0]}")


def stage_code(store: Store) -> Path:
    """A folder holding ``labship_serve`` (the server's files, keyed by their content),
    for the environment's PYTHONPATH: labship itself is not installed there."""
    files = sorted(APP.glob("*.py"))
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    final = store.root / "serve" / "code" / digest.hexdigest()[:16]
    if (final / PACKAGE / "server.py").is_file():
        return final
    tmp = final.with_name(f".{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / PACKAGE).mkdir(parents=True)
    for file in files:
        shutil.copy2(file, tmp / PACKAGE / file.name)
    try:
        tmp.rename(final)
    except OSError:  # a concurrent twin put the same files there first
        shutil.rmtree(tmp, ignore_errors=True)
    return final
