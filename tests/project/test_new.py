"""labship new: the files, their contents and modes, all or nothing."""

from __future__ import annotations

import ast
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scaffolding import HOST_PYTHON, env_values, files_under, spec_dependencies

from conftest import labship
from labship import targets
from labship.errors import ConflictError, FileWriteError, UsageError
from labship.project import Project, read_settings
from labship.project.scaffold import new_project
from labship.targets.base import Context

NEW_FILES = {
    "labship.toml",
    "code/train.py",
    "data/.gitkeep",
    "models/.gitkeep",
    "notebooks/explore.ipynb",
    "docker/environment.yml",
    ".env_dev",
    ".env_prod",
    ".env.example",
    ".gitignore",
    ".dockerignore",
    "README.md",
}
COMPOSE_FILES = {"compose.yaml", "compose.prod.yaml"}


def test_new_creates_every_file_and_a_valid_labship_toml(tmp_path: Path) -> None:
    result = new_project(tmp_path / "churn")

    root = tmp_path / "churn"
    assert result.root == root
    assert set(files_under(root)) == NEW_FILES
    assert {p.relative_to(root).as_posix() for p in result.created} == NEW_FILES
    assert result.kept == ()
    settings = read_settings(root / "labship.toml")
    assert settings.name == "churn"
    assert settings.python == HOST_PYTHON
    assert settings.spec == "docker/environment.yml"
    assert settings.jobs["train"].argv == ("python", "code/train.py")
    assert settings.lab_port == 8888
    assert settings.dev_packages == ("jupyterlab",)
    assert settings.required == ("RANDOM_SEED", "DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD")
    assert settings.secret == ("DB_PASSWORD", "JUPYTER_TOKEN")
    assert settings.image == "churn"
    assert settings.system_packages == ()


def test_new_environment_yml_pins_the_prod_set_without_jupyterlab(tmp_path: Path) -> None:
    new_project(tmp_path / "churn", python="3.12")

    spec = tmp_path / "churn" / "docker" / "environment.yml"
    assert spec_dependencies(spec) == ["python=3.12", "pandas=2.2.3", "scikit-learn=1.5.2"]
    assert yaml.safe_load(spec.read_text())["name"] == "churn"
    assert read_settings(tmp_path / "churn" / "labship.toml").python == "3.12"


def test_new_profiles_are_private_complete_and_random(tmp_path: Path) -> None:
    first = new_project(tmp_path / "a").root
    second = new_project(tmp_path / "b").root

    for root in (first, second):
        for name in (".env_dev", ".env_prod"):
            assert stat.S_IMODE((root / name).stat().st_mode) == 0o600, name
        dev = env_values(root / ".env_dev")
        prod = env_values(root / ".env_prod")
        settings = read_settings(root / "labship.toml")
        for profile in (dev, prod):
            assert set(settings.required) <= set(profile)
            assert all(profile[key] for key in settings.required)
        assert re.fullmatch(r"[0-9a-f]{48}", dev["JUPYTER_TOKEN"])
        assert "JUPYTER_TOKEN" not in prod
        assert len(dev["DB_PASSWORD"]) >= 24
        assert dev["DB_PASSWORD"] != prod["DB_PASSWORD"]
        assert prod["DB_HOST"] == "db.prod.internal"
    dev_a, dev_b = env_values(first / ".env_dev"), env_values(second / ".env_dev")
    assert dev_a["JUPYTER_TOKEN"] != dev_b["JUPYTER_TOKEN"]
    assert dev_a["DB_PASSWORD"] != dev_b["DB_PASSWORD"]


def test_new_env_example_documents_every_key_and_holds_no_secret(tmp_path: Path) -> None:
    root = new_project(tmp_path / "churn").root

    text = (root / ".env.example").read_text()
    example = env_values(root / ".env.example")
    dev = env_values(root / ".env_dev")
    assert set(example) == set(dev)
    assert example["DB_PASSWORD"] == "" and example["JUPYTER_TOKEN"] == ""
    for value in (dev["DB_PASSWORD"], dev["JUPYTER_TOKEN"]):
        assert value not in text
    lines = text.splitlines()
    for key in example:  # a comment right above every key
        above = lines[lines.index(f"{key}={example[key]}") - 1]
        assert above.startswith("# "), key
    for key in ("DB_PASSWORD", "JUPYTER_TOKEN"):
        assert "secret" in lines[lines.index(f"{key}=") - 1]


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )


def test_gitignore_hides_profiles_data_and_models_but_not_the_example(tmp_path: Path) -> None:
    root = new_project(tmp_path / "churn").root
    assert _git(root, "init", "-q").returncode == 0

    def ignored(path: str) -> bool:
        proc = _git(root, "check-ignore", "-q", path)
        assert proc.returncode in (0, 1), proc.stderr
        return proc.returncode == 0

    for path in (".env_dev", ".env_prod", ".env_staging", "data/raw.csv", "models/model.pkl"):
        assert ignored(path), path
    for path in (".labship/runs.jsonl", "code/__pycache__/train.cpython-311.pyc"):
        assert ignored(path), path
    for path in (".env.example", "data/.gitkeep", "models/.gitkeep", "labship.toml"):
        assert not ignored(path), path
    for path in ("pylock.toml", "code/train.py", "notebooks/explore.ipynb"):
        assert not ignored(path), path


def _docker_ignores(patterns: list[str], path: str) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins, a match on a parent
    folder counts, '**' spans folders, '*' and '?' stay within one."""

    def regex(pattern: str) -> re.Pattern[str]:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out)

    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = os.path.normpath(raw.lstrip("!")).lstrip("/")
        if any(regex(pattern).fullmatch(c) for c in candidates):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_secrets_and_data_out_of_the_build_context(tmp_path: Path) -> None:
    root = new_project(tmp_path / "churn").root
    patterns = [
        line.strip()
        for line in (root / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    private = [".env_dev", ".env_prod", ".env.example", ".env", "code/.env_local"]
    private += ["data/raw.csv", "data/sub/x.parquet", "models/model.pkl", ".labship/runs"]
    private += [".git/HEAD", ".venv/bin/python", "code/__pycache__/t.pyc", "code/__pycache__/x"]
    private += ["notebooks/.ipynb_checkpoints/explore-checkpoint.ipynb"]
    for path in private:
        assert _docker_ignores(patterns, path), path
    needed = ["labship.toml", "pylock.toml", "code/train.py", "docker/environment.yml"]
    for path in needed:
        assert not _docker_ignores(patterns, path), path


def test_new_into_a_non_empty_folder_changes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "churn"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine\n")
    before = files_under(dest)

    with pytest.raises(ConflictError) as caught:
        new_project(dest)

    assert caught.value.exit_code == 73
    assert str(dest) in str(caught.value)
    assert files_under(dest) == before
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt"]


def test_new_onto_a_file_is_a_conflict(tmp_path: Path) -> None:
    (tmp_path / "churn").write_text("a file\n")
    with pytest.raises(ConflictError, match="not a folder"):
        new_project(tmp_path / "churn")
    assert (tmp_path / "churn").read_text() == "a file\n"


def test_new_into_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "churn").mkdir()
    new_project(tmp_path / "churn")
    assert set(files_under(tmp_path / "churn")) == NEW_FILES


def test_new_bare_has_no_example_job_or_packages(tmp_path: Path) -> None:
    root = new_project(tmp_path / "plain", bare=True).root

    files = set(files_under(root))
    assert "code/train.py" not in files and "notebooks/explore.ipynb" not in files
    assert files >= NEW_FILES - {"code/train.py", "notebooks/explore.ipynb"}
    assert (root / "code").is_dir() and (root / "notebooks").is_dir()
    assert "[jobs" not in (root / "labship.toml").read_text()
    settings = read_settings(root / "labship.toml")
    assert settings.jobs == {}
    assert settings.name == "plain"
    spec = root / "docker" / "environment.yml"
    assert spec_dependencies(spec) == [f"python={HOST_PYTHON}"]


def test_new_names_from_the_folder_or_the_option(tmp_path: Path) -> None:
    assert read_settings(new_project(tmp_path / "My Churn").root / "labship.toml").name == (
        "my-churn"
    )
    root = new_project(tmp_path / "x", name="churn.v2").root
    settings = read_settings(root / "labship.toml")
    assert settings.name == "churn.v2" and settings.image == "churn.v2"
    assert env_values(root / ".env_dev")["DB_NAME"] == "churn_v2_dev"
    with pytest.raises(UsageError, match="not a valid project name"):
        new_project(tmp_path / "y", name="Churn Model")
    with pytest.raises(UsageError, match="not a Python version"):
        new_project(tmp_path / "z", python="3")
    assert not (tmp_path / "y").exists() and not (tmp_path / "z").exists()


def test_a_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def failing_open(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if os.fspath(path).endswith(".env_prod"):
            raise OSError(28, "No space left on device", os.fspath(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", failing_open)
    with pytest.raises(FileWriteError, match="No space left on device") as caught:
        new_project(tmp_path / "churn", extra_files=lambda p: {"extra.txt": "x"})
    assert caught.value.exit_code == 74
    assert "free some disk space" in str(caught.value)
    assert not (tmp_path / "churn").exists()


def test_the_notebook_is_valid_nbformat_4_and_its_code_compiles(tmp_path: Path) -> None:
    root = new_project(tmp_path / "churn").root

    notebook = json.loads((root / "notebooks" / "explore.ipynb").read_text())
    assert notebook["nbformat"] == 4 and notebook["nbformat_minor"] >= 4
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert len(code) >= 2
    for cell in notebook["cells"]:
        assert isinstance(cell["source"], list) and isinstance(cell["metadata"], dict)
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", cell["id"])
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None
        compile("".join(cell["source"]), cell["id"], "exec")
    assert "load_breast_cancer" in "".join("".join(c["source"]) for c in code)


def test_the_example_job_reads_its_settings_and_never_prints_the_password(
    tmp_path: Path,
) -> None:
    source = (new_project(tmp_path / "churn").root / "code" / "train.py").read_text()
    tree = ast.parse(source)

    names = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert {"RANDOM_SEED", "DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD"} <= names
    assert {"MODEL_DIR", "LABSHIP_PROFILE", "model.pkl", "metrics.json"} <= names
    printed = [
        ast.unparse(n)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
    ]
    assert printed and not any("DB_PASSWORD" in p for p in printed)


@pytest.mark.slow
def test_the_example_job_trains_and_fails_clearly(tmp_path: Path) -> None:
    """The real job with the pinned pandas and scikit-learn (installed by uv)."""
    from labship.tools.uv import uv_bin

    uv = uv_bin()  # labship's own uv (a dependency): never skipped
    root = new_project(tmp_path / "churn").root
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", HOST_PYTHON, str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv), "pandas==2.2.3", "scikit-learn==1.5.2"],
        check=True,
    )
    python = str(venv / "bin" / "python")
    env = {**os.environ, **env_values(root / ".env_dev"), "LABSHIP_PROFILE": "dev"}

    ok = subprocess.run(
        [python, "code/train.py"], cwd=root, env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "db: churn@localhost/churn_dev" in ok.stdout
    assert env["DB_PASSWORD"] not in ok.stdout + ok.stderr
    metrics = json.loads((root / "models" / "metrics.json").read_text())
    assert metrics["seed"] == 42 and metrics["profile"] == "dev"
    assert metrics["n_train"] + metrics["n_test"] == 569 and metrics["accuracy"] > 0.9
    assert (root / "models" / "model.pkl").stat().st_size > 0

    bad = subprocess.run(
        [python, "code/train.py"],
        cwd=root,
        env={**env, "RANDOM_SEED": "forty-two"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "train: RANDOM_SEED must be a whole number, not 'forty-two'"
    ]


# ------------------------------------------------------------------ extra files


def test_extra_files_see_the_new_project_and_are_written_with_it(tmp_path: Path) -> None:
    seen: list[Project] = []

    def extra(project: Project) -> dict[str, str]:
        seen.append(project)
        return {"compose.yaml": f"name: {project.name}\n", "ops/notes.txt": "hi\n"}

    result = new_project(tmp_path / "churn", extra_files=extra)

    (project,) = seen
    assert project.root == result.root == tmp_path / "churn"
    assert project.settings == read_settings(result.root / "labship.toml")
    assert set(files_under(result.root)) == NEW_FILES | {"compose.yaml", "ops/notes.txt"}
    assert (result.root / "ops" / "notes.txt").read_text() == "hi\n"


@pytest.mark.parametrize("rel", ["labship.toml", "./.env_dev", "/tmp/x", "../x", "a/../../x"])
def test_extra_files_stay_inside_and_never_replace_the_projects_own(
    tmp_path: Path, rel: str
) -> None:
    with pytest.raises(ValueError, match="extra_files"):
        new_project(tmp_path / "churn", extra_files=lambda p: {rel: "x"})
    assert not (tmp_path / "churn").exists()


def test_the_scaffold_does_not_import_the_targets(tmp_path: Path) -> None:
    """The dependency points one way: api hands the compose files in, scaffold never asks."""
    code = (
        "import sys; from pathlib import Path; "
        "from labship.project.scaffold import new_project, init_project; "
        f"new_project(Path({str(tmp_path / 'a')!r})); init_project(Path({str(tmp_path)!r})); "
        "print(sorted(m for m in sys.modules if m.startswith('labship.targets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_new_files_follow_the_umask_but_profiles_are_private(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        root = new_project(tmp_path / "churn").root
    finally:
        os.umask(old)
    modes = {rel: mode for rel, (_, mode) in files_under(root).items()}
    assert {rel for rel, mode in modes.items() if mode == 0o600} == {".env_dev", ".env_prod"}
    assert {mode for rel, mode in modes.items() if not rel.startswith(".env_")} == {0o640}
    for folder in (root, root / "code", root / "docker", root / "data"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o750, folder


# -------------------------------------------------------------------------- CLI


def test_cli_new_writes_the_compose_files_export_compose_owns(tmp_path: Path) -> None:
    """`labship new` is api.new: the project plus what `export compose` would write."""
    from labship.generated import state as file_state
    from labship.project import load_project

    proc = labship("new", "churn", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "churn"
    assert set(files_under(root)) == NEW_FILES | COMPOSE_FILES
    rendered = targets.render(Context(load_project(root)), "compose")
    assert set(rendered) == COMPOSE_FILES
    for name, text in rendered.items():
        assert (root / name).read_text() == text
        assert file_state(root / name) == "generated"
    assert "train" in rendered["compose.prod.yaml"]


def test_cli_new_with_a_name_too_long_for_the_file_system_is_one_line(tmp_path: Path) -> None:
    proc = labship("new", "a" * 300, cwd=tmp_path)
    assert proc.returncode == 74, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("labship: error: cannot write ")
    assert "File name too long" in line and "choose a shorter name" in line
    assert list(tmp_path.iterdir()) == []
