"""Without servers or Docker: the set a model is served with (no mlflow for a sklearn
model), the serving image's Dockerfile and build context, the runtime rule, and the
image's entry point choosing workers from the cgroup."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labship.console import Console
from labship.errors import UsageError
from labship.images import serve as image
from labship.serving import serve_runtime
from labship.serving.env import APP, served_requirements, server
from labship.serving.model import ModelFolder, read_model

REQUIREMENTS = ("mlflow==3.17.2", "numpy==2.4.6", "scikit-learn==1.9.1")


def _folder(tmp_path: Path, flavors: str, requirements: str = "\n".join(REQUIREMENTS)) -> Path:
    (tmp_path / "MLmodel").write_text(f"flavors:\n{flavors}")
    (tmp_path / "requirements.txt").write_text(requirements + "\n")
    return tmp_path


SKLEARN = (
    "  python_function: {python_version: 3.11.7, loader_module: mlflow.sklearn}\n"
    "  sklearn: {pickled_model: model.pkl, serialization_format: %s}\n"
)


@pytest.mark.parametrize(
    ("fmt", "extra"), [("cloudpickle", ("cloudpickle",)), ("pickle", ()), ("skops", ("skops",))]
)
def test_a_sklearn_model_is_served_without_mlflow_plus_its_formats_package(
    tmp_path: Path, fmt: str, extra: tuple[str, ...]
) -> None:
    model = read_model(_folder(tmp_path, SKLEARN % fmt))
    assert model.sklearn_format == fmt
    assert served_requirements(model) == (*REQUIREMENTS[1:], *extra)


def test_a_listed_format_package_is_kept_as_pinned_and_mlflow_skinny_goes_too(
    tmp_path: Path,
) -> None:
    lines = "MLflow-Skinny[extras]>=3\nmlflow==3.17.2 ; python_version >= '3.9'\nskops==0.16.0"
    model = read_model(_folder(tmp_path, SKLEARN % "skops", lines))
    assert served_requirements(model) == ("skops==0.16.0",)


def test_a_pyfunc_only_model_keeps_mlflow(tmp_path: Path) -> None:
    model = read_model(_folder(tmp_path, "  python_function: {python_version: 3.11.7}\n"))
    assert model.sklearn_format is None
    assert served_requirements(model) == REQUIREMENTS


def test_the_dockerfile_is_non_root_checks_health_with_urllib_and_loads_the_model() -> None:
    text = image.render_dockerfile(ModelFolder(Path("/m/iris"), "3.11", ()), server())
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    assert "uv pip sync --preview-features pylock" in text
    assert [
        line for line in text.splitlines() if "pip install" in line and "uv==" not in line
    ] == []
    assert "USER 10001:10001" in text and "EXPOSE 8080" in text
    health = text.split("HEALTHCHECK", 1)[1].split("\n\n", 1)[0]
    assert "urllib.request" in health and "/ping" in health and "curl" not in text
    assert '"-m", "labship_serve", "--model", "/model"' in text  # workers: cgroup at start
    assert "w.Model(pathlib.Path('/model'))" in text  # the model loads, or no image


def test_the_context_holds_the_lock_the_server_and_the_model_without_env_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "iris").mkdir()
    folder = _folder(tmp_path / "iris", SKLEARN % "pickle")
    (folder / "model.pkl").write_bytes(b"x")
    (folder / "model.pkl").chmod(0o600)
    for junk in (".env", ".env_prod", ".git/config", "__pycache__/a.pyc", "code/.env"):
        (folder / junk).parent.mkdir(parents=True, exist_ok=True)
        (folder / junk).write_text("SECRET=1\n")
    lock = tmp_path / "pylock.toml"
    lock.write_text('lock-version = "1.0"\n')

    class FakeLock:  # only the path is read
        def path(self, *, dev: bool) -> Path:
            return lock

    model = read_model(folder)
    with image._stage(model, FakeLock(), server(), "FROM x\n") as context:  # type: ignore[arg-type]
        found = sorted(str(p.relative_to(context)) for p in context.rglob("*"))
        assert (context / "model" / "model.pkl").stat().st_mode & 0o777 == 0o644
    code = sorted(f"labship_serve/{p.name}" for p in APP.glob("*.py"))
    model_files = [
        "model",
        "model/MLmodel",
        "model/code",
        "model/model.pkl",
        "model/requirements.txt",
    ]
    want = ["Dockerfile", "labship_serve", *code, *model_files, "pylock.toml", "uv"]
    assert [f for f in found if not f.startswith("uv/")] == sorted(want)


def test_the_tag_is_keyed_by_the_model_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path, SKLEARN % "pickle")
    (folder / "model.pkl").write_bytes(b"one")
    lock = tmp_path / "pylock.toml"
    lock.write_text('lock-version = "1.0"\n')

    class FakeLock:
        def path(self, *, dev: bool) -> Path:
            return lock

    model = read_model(folder)
    first = image.plan(model, FakeLock(), server()).tag  # type: ignore[arg-type]
    assert first == image.plan(model, FakeLock(), server()).tag  # type: ignore[arg-type]
    (folder / ".env").write_text("X=1\n")  # not part of the image: no new tag
    assert image.plan(model, FakeLock(), server()).tag == first  # type: ignore[arg-type]
    (folder / "model.pkl").write_bytes(b"two")
    assert image.plan(model, FakeLock(), server()).tag != first  # type: ignore[arg-type]
    assert first.startswith(f"labship-serve/{tmp_path.name.lower().replace('_', '-')}:")


def test_serve_runs_locally_unless_docker_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.delenv("LABSHIP_RUNTIME", raising=False)
    assert serve_runtime(None, console=Console(stream=err)).name == "local"
    assert "runtime: local (the default without a project)" in err.getvalue()
    monkeypatch.setenv("LABSHIP_RUNTIME", "docker")
    assert serve_runtime(None, console=Console(stream=err)).runs_images
    assert serve_runtime("local", console=Console(stream=err)).name == "local"
    monkeypatch.setenv("LABSHIP_RUNTIME", "auto")
    assert serve_runtime(None, console=Console(stream=err)).name == "local"
    monkeypatch.setenv("LABSHIP_RUNTIME", "podman")
    with pytest.raises(UsageError, match="podman"):
        serve_runtime(None, console=Console(stream=err))


def test_the_entry_point_takes_workers_from_the_cgroup_unless_told(tmp_path: Path) -> None:
    """python -m labship_serve, run as the image runs it, with server.main replaced."""
    code = tmp_path / "code"
    (code / "labship_serve").mkdir(parents=True)
    for file in APP.glob("*.py"):
        (code / "labship_serve" / file.name).write_text(file.read_text())
    (code / "labship_serve" / "server.py").write_text("def main(argv):\n    print(argv)\n")
    cgroup = tmp_path / "cpu.max"
    cgroup.write_text("300000 100000\n")
    (code / "labship_serve" / "cpus.py").write_text(
        (APP / "cpus.py")
        .read_text()
        .replace('Path("/sys/fs/cgroup/cpu.max")', f"Path({str(cgroup)!r})")
    )

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "labship_serve", "--model", "/model", *args],
            cwd=code,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    expected = min(3, len(os.sched_getaffinity(0)))
    assert run() == str(
        ["--model", "/model", "--workers", str(expected), "--queue", str(64 * expected)]
    )
    assert run("--workers", "5") == str(["--model", "/model", "--workers", "5"])
