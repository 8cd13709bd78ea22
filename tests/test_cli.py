"""``labship run / runs / env`` through the real CLI, on the local runtime."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from conftest import MakeProject, labship
from labship.locking import read_lock
from labship.profiles import parse_env_file
from labship.project import load_project

DEV_SECRET = "dev-secret-value-123"
PROD_SECRET = "prod-secret-value-456"


def _assert_usage(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("labship: error: ")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def _no_secret(proc: subprocess.CompletedProcess[str]) -> None:
    for secret in (DEV_SECRET, PROD_SECRET):
        assert secret not in proc.stdout, proc.stdout
        assert secret not in proc.stderr, proc.stderr


def _runs(root: Path) -> list[dict[str, object]]:
    proc = labship("runs", "--json", cwd=root, check=True)
    _no_secret(proc)
    records = json.loads(proc.stdout)
    assert isinstance(records, list)
    return records


# ----------------------------------------------------------------------- run


def test_run_only_job_dev(locked_project: Path) -> None:
    proc = labship("-v", "run", cwd=locked_project)
    assert proc.returncode == 0, proc.stderr
    assert "six 1.16.0" in proc.stdout
    assert "greeting hello" in proc.stdout
    assert "production" not in proc.stderr.lower()
    _no_secret(proc)


def test_run_prod_says_so(locked_project: Path) -> None:
    proc = labship("run", "--profile", "prod", cwd=locked_project)
    assert proc.returncode == 0, proc.stderr
    assert "greeting prod-hello" in proc.stdout
    assert any("production" in ln.lower() for ln in proc.stderr.splitlines()), proc.stderr
    _no_secret(proc)


def test_job_exit_code_comes_back(locked_project: Path) -> None:
    (locked_project / ".env_ci").write_text("GREETING=ci\nEXIT_CODE=3\n")
    proc = labship("run", "--profile", "ci", cwd=locked_project)
    assert proc.returncode == 3, proc.stderr
    assert "greeting ci" in proc.stdout
    (record,) = _runs(locked_project)
    assert record["exit_code"] == 3 and record["profile"] == "ci"


def test_unknown_job_names_known_jobs(make_project: MakeProject) -> None:
    root = make_project(jobs={"train": "python code/hello.py", "report": "python code/hello.py"})
    err = _assert_usage(labship("run", "nope", cwd=root), 64)
    assert "nope" in err and "train" in err and "report" in err


def test_a_job_name_typo_gets_did_you_mean(make_project: MakeProject) -> None:
    root = make_project(jobs={"train": "python code/hello.py", "report": "python code/hello.py"})
    err = _assert_usage(labship("run", "trian", cwd=root), 64)
    assert "unknown job 'trian'" in err and "did you mean 'train'?" in err
    assert "jobs defined: report, train" in err


def test_a_missing_prod_profile_says_how_to_make_it(make_project: MakeProject) -> None:
    root = make_project(env_prod=None, required=("GREETING", "DB_PASSWORD"))
    (root / ".env.example").write_text("GREETING=\nDB_PASSWORD=\n")
    err = _assert_usage(labship("run", "--profile", "prod", cwd=root), 64)
    assert err.endswith(
        "make it from .env.example: cp .env.example .env_prod && chmod 600 .env_prod, "
        "then set GREETING, DB_PASSWORD in it (profiles here: dev)"
    ), err
    err = _assert_usage(labship("run", "--profile", "prdo", cwd=root), 64)
    assert "did you mean 'prod'? make it from .env.example: cp .env.example .env_prod" in err
    (root / ".env.example").unlink()
    err = _assert_usage(labship("run", "--profile", "prod", cwd=root), 64)
    assert "create .env_prod with mode 600 (touch .env_prod && chmod 600 .env_prod)" in err
    (root / ".env_prod").write_text("GREETING=x\nDB_PASSWORD=y\n")
    err = _assert_usage(labship("run", "--profile", "prdo", cwd=root), 64)
    assert err.endswith("did you mean 'prod'? profiles here: dev, prod"), err


def test_several_jobs_none_named(make_project: MakeProject) -> None:
    root = make_project(jobs={"train": "python code/hello.py", "report": "python code/hello.py"})
    err = _assert_usage(labship("run", cwd=root), 64)
    assert "train" in err and "report" in err


def test_unknown_profile_names_existing(locked_project: Path) -> None:
    err = _assert_usage(labship("run", "--profile", "staging", cwd=locked_project), 64)
    assert "staging" in err and "dev" in err and "prod" in err
    assert not (locked_project / ".labship" / "runs.jsonl").exists()


def test_missing_variables_named_before_start(make_project: MakeProject) -> None:
    root = make_project(
        required=("GREETING", "API_URL", "RANDOM_SEED"),
        env_dev=f"GREETING=\nDB_PASSWORD={DEV_SECRET}\n",
    )
    (root / "code" / "hello.py").write_text("open('started', 'w').close()\n")
    labship("lock", cwd=root, check=True)
    proc = labship("run", cwd=root)
    err = _assert_usage(proc, 65)
    for name in ("GREETING", "API_URL", "RANDOM_SEED"):
        assert name in err
    _no_secret(proc)
    assert proc.stdout == ""
    assert not (root / "started").exists()
    assert not (root / ".labship" / "runs.jsonl").exists()


def test_caller_environment_does_not_leak(make_project: MakeProject) -> None:
    root = make_project(jobs={"leak": "python code/leak.py"})
    (root / "code" / "leak.py").write_text(
        "import os\nprint('leak', os.environ.get('LEAKY_VAR'))\n"
        "print('greeting', os.environ.get('GREETING'))\n"
    )
    labship("lock", cwd=root, check=True)
    proc = labship("run", cwd=root, env={"LEAKY_VAR": "1", "GREETING": "from-the-shell"})
    assert proc.returncode == 0, proc.stderr
    assert "leak None" in proc.stdout
    assert "greeting hello" in proc.stdout  # the profile, not the caller's shell


def test_secrets_never_in_labship_output(locked_project: Path) -> None:
    for args in (("-v", "run"), ("-v", "run", "--profile", "prod"), ("env",), ("env", "--json")):
        proc = labship(*args, cwd=locked_project)
        assert proc.returncode == 0, (args, proc.stderr)
        _no_secret(proc)
    # a missing-variable error with the secret in the same file
    env_dev = locked_project / ".env_dev"
    env_dev.write_text(f"DB_PASSWORD={DEV_SECRET}\n")
    proc = labship("run", cwd=locked_project)
    assert proc.returncode == 65
    assert "GREETING" in proc.stderr
    _no_secret(proc)
    # the run log
    assert len(_runs(locked_project)) == 2


# ----------------------------------------------------------------------- runs


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_runs_table_and_json(locked_project: Path) -> None:
    root = locked_project
    _git(root, "init", "-q")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "x")
    head = _git(root, "rev-parse", "HEAD")

    proc = labship("runs", cwd=root)
    assert proc.returncode == 0 and "no runs" in proc.stderr

    labship("run", cwd=root, check=True)
    labship("run", "--profile", "prod", cwd=root, check=True)

    table = labship("runs", cwd=root, check=True).stdout.splitlines()
    assert len(table) == 3, table
    assert table[0].split()[:4] == ["start", "job", "profile", "runtime"]
    assert "hello" in table[1] and " dev " in table[1]
    assert "hello" in table[2] and " prod " in table[2]
    assert head[:12] in table[1]

    lock_hash = read_lock(load_project(root)).prod_hash
    records = _runs(root)
    assert [r["profile"] for r in records] == ["dev", "prod"]
    keys = {
        "job",
        "profile",
        "runtime",
        "start",
        "duration_s",
        "exit_code",
        "lock_hash",
        "git_commit",
    }
    for record in records:
        assert keys <= set(record), record
        assert record["job"] == "hello"
        assert record["runtime"] == "local"
        datetime.strptime(str(record["start"]), "%Y-%m-%dT%H:%M:%SZ")
        assert isinstance(record["duration_s"], float | int) and record["duration_s"] >= 0
        assert record["exit_code"] == 0
        assert record["lock_hash"] == lock_hash
        assert record["git_commit"] == head

    last = json.loads(labship("runs", "--json", "--last", "1", cwd=root, check=True).stdout)
    assert [r["profile"] for r in last] == ["prod"]


# ----------------------------------------------------------------------- env


def test_env_shows_profiles_and_differences(make_project: MakeProject) -> None:
    root = make_project(
        env_prod=f"GREETING=prod-hello\nDB_PASSWORD={PROD_SECRET}\nWORKERS=8\n",
    )
    proc = labship("env", cwd=root)
    assert proc.returncode == 0, proc.stderr
    _no_secret(proc)
    out = proc.stdout
    header = out.splitlines()[0].split()
    assert header[0] == "KEY" and "dev" in header and "prod" in header
    rows = {ln.split()[0]: ln for ln in out.splitlines()[1:] if ln and not ln.startswith(" ")}
    assert "hello" in rows["GREETING"] and "prod-hello" in rows["GREETING"]
    assert "****" in rows["DB_PASSWORD"]
    assert "differences:" in out
    differences = out.split("differences:", 1)[1]
    assert "GREETING" in differences and "WORKERS" in differences

    proc = labship("env", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    _no_secret(proc)
    data = json.loads(proc.stdout)
    profiles = {p["name"]: p for p in data["profiles"]}
    assert set(profiles) == {"dev", "prod"}
    assert profiles["dev"]["values"]["GREETING"] == "hello"
    assert profiles["prod"]["values"]["DB_PASSWORD"] == "****"
    assert profiles["prod"]["values"]["WORKERS"] == "8"
    diffs = {d["key"]: d for d in data["differences"]}
    assert diffs["WORKERS"]["missing_from"] == ["dev"]
    assert diffs["GREETING"]["values_differ"] is True
    assert diffs["DB_PASSWORD"]["secret"] is True


def test_env_reports_missing_required(make_project: MakeProject) -> None:
    root = make_project(required=("GREETING", "API_URL"))
    proc = labship("env", cwd=root)
    assert proc.returncode == 65
    assert "API_URL" in proc.stdout
    assert "missing required API_URL" in proc.stdout
    _no_secret(proc)


def test_env_names_missing_profiles_and_open_secrets_without_failing(
    make_project: MakeProject,
) -> None:
    root = make_project(env_prod=None)
    (root / ".env_dev").chmod(0o644)
    proc = labship("env", cwd=root)
    assert proc.returncode == 0, proc.stderr
    _no_secret(proc)
    tail = proc.stdout.splitlines()[-2:]
    assert tail == [
        "warning: .env_dev holds secrets and other users may read it (mode 0644): "
        "chmod 600 .env_dev",
        "missing profile prod (labship run --profile prod): create .env_prod with mode 600 "
        "(touch .env_prod && chmod 600 .env_prod), then set GREETING in it",
    ]
    (root / ".env_dev").chmod(0o600)
    data = json.loads(labship("env", "--json", cwd=root, check=True).stdout)
    assert data["profiles"][0]["open_to_others"] is False
    assert [m["name"] for m in data["missing_profiles"]] == ["prod"]


def test_a_missing_lab_token_gets_a_fresh_line_the_env_file_accepts(
    make_project: MakeProject,
) -> None:
    root = make_project(env_dev=f"GREETING=hello\nDB_PASSWORD={DEV_SECRET}")  # no final newline
    lines = [_assert_usage(labship("lab", cwd=root), 65) for _ in range(2)]
    _no_secret(labship("lab", cwd=root))
    said = "put this line, a new random token, in .env_dev: JUPYTER_TOKEN="
    tokens = [line.split(said, 1)[1] for line in lines]
    assert all(re.fullmatch(r"[0-9a-f]{48}", t) for t in tokens), lines
    assert tokens[0] != tokens[1]  # made fresh each time, never one in use
    with (root / ".env_dev").open("a") as env:
        env.write(f"\nJUPYTER_TOKEN={tokens[0]}\n")  # the line, pasted on a line of its own
    assert parse_env_file(root / ".env_dev")["JUPYTER_TOKEN"] == tokens[0]


def test_closed_pipe_is_not_a_traceback(make_project: MakeProject) -> None:
    """``labship env --json | head -1``: the reader leaves early; no traceback."""
    root = make_project()
    for args in (("env", "--json"), ("runs", "--json")):
        proc = subprocess.Popen(
            [sys.executable, "-m", "labship", *args],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # before the interpreter has started: its write will fail
        with proc.stderr:
            err = proc.stderr.read()
        proc.wait(timeout=60)
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
        assert proc.returncode in (0, 141), (proc.returncode, err)


def _run_on_a_terminal(argv: list[str], cwd: Path) -> tuple[int, str]:
    """The real CLI with a pseudo-terminal as stdout and stderr, as a user at a shell."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "labship", *argv],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=300), b"".join(chunks).decode(errors="replace")


def test_long_work_shows_progress_on_a_terminal_and_stays_quiet_in_logs(
    make_project: MakeProject,
) -> None:
    root = make_project()
    code, screen = _run_on_a_terminal(["lock"], root)
    assert code == 0, screen
    assert "Resolved" in screen  # uv's own progress, streamed
    logged = labship("lock", cwd=root, check=True)  # stderr is a pipe, as in a log
    assert "Resolved" not in logged.stderr
    assert "labship: unchanged: pylock.toml" in logged.stderr


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_command_line_mistakes_are_one_line_and_exit_64(make_project: MakeProject) -> None:
    root = make_project()
    for args, words in (
        (["frobnicate"], "invalid choice"),
        (["run", "--no-such-flag"], "unrecognized arguments"),
        (["lab", "--port", "many"], "--port"),
        (["lab", "--port", "0"], "not a TCP port"),
        (["lab", "--port", "70000"], "not a TCP port"),
        (["runs", "--last", "-1"], "--last"),
        (["runs", "--last", "0"], "--last"),
        ([], "required"),
        (["build", "staging"], "invalid choice"),
        (["export", "nowhere"], "invalid choice"),
    ):
        proc = labship(*args, cwd=root)
        assert proc.returncode == 64, (args, proc.stderr)
        line = _one_line(proc)
        assert line.startswith("labship: error: ") and words in line, (args, line)
        assert proc.stdout == ""


def test_global_flags_work_after_the_command_too(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project()
    before = labship("-C", str(root), "env", "--json", cwd=tmp_path)
    after = labship("env", "--json", "-C", str(root), cwd=tmp_path)
    assert before.returncode == after.returncode == 0, after.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout)
    quiet = labship("lock", "--check", "-q", cwd=root)
    loud = labship("lock", "--check", cwd=root)
    assert quiet.returncode == loud.returncode
    assert quiet.stderr == "" or quiet.returncode != 0
    # A flag given before the command is not reset by the command's own parser.
    assert labship("-q", "lock", "--check", cwd=root).stderr == quiet.stderr


def test_help_and_version_still_exit_0(tmp_path: Path) -> None:
    assert labship("--version", cwd=tmp_path).returncode == 0
    assert labship("run", "--help", cwd=tmp_path).returncode == 0


def test_unknown_runtime_in_labship_toml_is_a_config_error(make_project: MakeProject) -> None:
    root = make_project()
    config = root / "labship.toml"
    config.write_text(config.read_text().replace("[project]\n", '[project]\nruntime = "k8s"\n'))
    proc = labship("run", cwd=root, env={"LABSHIP_RUNTIME": ""})
    assert proc.returncode == 78, proc.stderr
    assert "k8s" in _one_line(proc)
    proc = labship("run", "--runtime", "k8s", cwd=root)
    assert proc.returncode == 64


# ----------------------------------------------------------------- completion


def _labship_on_path(tmp_path: Path) -> dict[str, str]:
    """A ``labship`` command on PATH that is this checkout's, as the script calls it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    shim = folder / "labship"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m labship "$@"\n')
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


# zsh's completion system is not loaded in a plain ``zsh -f``: stand-ins print what the
# script offers (compadd filters by prefix itself, so the tests complete empty words).
_ZSH_STUBS = """
compdef() { : }
compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }
_files() { print -r -- '<folders>' }
"""


def _complete(shell: str, words: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
    """What the script offers for the last word, run by the real shell."""
    script = labship("completion", shell, cwd=cwd, env=env, check=True).stdout
    quoted = " ".join(shlex.quote(w) for w in words)
    if shell == "bash":
        driver = f"{script}\nCOMP_WORDS=({quoted})\nCOMP_CWORD={len(words) - 1}\n_labship\n"
        driver += 'printf "%s\\n" "${COMPREPLY[@]}"\n'
        argv = ["bash", "--norc", "--noprofile", "-c", driver]
    else:
        driver = f"{_ZSH_STUBS}{script}\nwords=({quoted})\nCURRENT={len(words)}\n_labship\n"
        argv = ["zsh", "-f", "-c", driver]
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", (words, proc.stderr)
    return [line for line in proc.stdout.splitlines() if line]


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_knows_commands_jobs_and_profiles(
    shell: str, make_project: MakeProject, tmp_path: Path
) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    root = make_project(jobs={"train": "python code/hello.py", "report": "python code/hello.py"})
    env = _labship_on_path(tmp_path)
    commands = _complete(shell, ["labship", ""], root, env)
    assert {"new", "init", "run", "lab", "env", "build", "completion"} <= set(commands)
    assert _complete(shell, ["labship", "run", ""], root, env) == ["report", "train"]
    assert _complete(shell, ["labship", "-v", "run", "-p", ""], root, env) == ["dev", "prod"]
    elsewhere = ["labship", "-C", str(root), "run", "--profile", "prod", ""]
    assert _complete(shell, elsewhere, tmp_path, env) == ["report", "train"]
    assert _complete(shell, ["labship", "build", ""], root, env) == ["dev", "prod", "all", "serve"]
    assert "k8s" in _complete(shell, ["labship", "export", ""], root, env)  # not its JOBs
    assert set(_complete(shell, ["labship", "run", "--runtime", ""], root, env)) == {
        "auto",
        "local",
        "docker",
    }
    assert "--profile" in _complete(shell, ["labship", "shell", "-"], root, env)
    assert _complete(shell, ["labship", "run", ""], tmp_path, env) == []  # no project here
    (root / "labship.toml").write_text("[jobs\n")
    assert _complete(shell, ["labship", "run", ""], root, env) == []  # broken: nothing


def test_bash_completion_filters_by_prefix_and_completes_folders(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(jobs={"train": "python code/hello.py", "report": "python code/hello.py"})
    env = _labship_on_path(tmp_path)
    assert _complete("bash", ["labship", "ru"], root, env) == ["run", "runs"]
    assert _complete("bash", ["labship", "run", "t"], root, env) == ["train"]
    assert _complete("bash", ["labship", "init", "co"], root, env) == ["code"]
    assert _complete("bash", ["labship", "-C", "co"], root, env) == ["code"]


def test_completion_list_is_quick_and_never_fails(make_project: MakeProject) -> None:
    root = make_project(jobs={"train": "python code/hello.py", "report": "python code/hello.py"})
    assert labship("completion", "--list", "jobs", cwd=root).stdout == "report\ntrain\n"
    assert labship("completion", "--list", "profiles", cwd=root).stdout == "dev\nprod\n"
    outside = labship("completion", "--list", "jobs", cwd=root.parent)
    assert (outside.returncode, outside.stdout, outside.stderr) == (0, "", "")
    # It reads labship.toml with tomllib alone: no YAML, Jinja, lock, runtime or target.
    heavy = ["yaml", "jinja2", "labship.api", "labship.locking", "labship.runtimes.local"]
    heavy += ["labship.runtimes.docker", "labship.images.build"]
    probe = (
        "import sys\nfrom labship.cli import main\ncode = main(['completion', '--list', 'jobs'])\n"
        f"heavy = set({heavy!r}) & set(sys.modules)\nassert not heavy, heavy\nsys.exit(code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True)
    assert (proc.returncode, proc.stdout) == (0, "report\ntrain\n"), proc.stderr
    (root / "labship.toml").write_bytes(b"\xff\xfe")
    broken = labship("completion", "--list", "jobs", cwd=root)
    assert (broken.returncode, broken.stdout, broken.stderr) == (0, "", "")
    err = _assert_usage(labship("completion", cwd=root), 64)
    assert "bash or zsh" in err
