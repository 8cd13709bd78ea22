"""``labship env``: every profile side by side, masked, and how they differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from profilefixtures import SECRET, profile, write

from labship.profiles.report import EnvReport, KeyDifference, diff_profiles, env_report


def test_diff_profiles() -> None:
    dev = profile("dev", {"A": "1", "B": "2", "S": "dev-pw", "T": "same"}, ("S", "T"))
    prod = profile("prod", {"A": "1", "B": "3", "S": "prod-pw", "T": "same", "C": "4"}, ("S", "T"))
    ci = profile("ci", {"A": "1", "B": "2", "S": "dev-pw", "T": "same"}, ("S", "T"))
    assert diff_profiles([dev, prod, ci]) == [
        KeyDifference("B", ("dev", "prod", "ci"), (), values_differ=True, secret=False),
        KeyDifference("C", ("prod",), ("dev", "ci"), values_differ=False, secret=False),
        KeyDifference("S", ("dev", "prod", "ci"), (), values_differ=True, secret=True),
    ]
    assert diff_profiles([dev]) == []
    assert diff_profiles([]) == []


def test_difference_never_holds_a_value() -> None:
    diff = diff_profiles([profile("a", {"S": SECRET}, ("S",)), profile("b", {"S": "x"}, ("S",))])
    assert SECRET not in repr(diff)
    assert SECRET not in json.dumps([d.to_json() for d in diff])
    assert diff[0].describe() == "S: values differ"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / ".env_dev", f"DB_HOST=localhost\nDB_PASSWORD=devpw-{SECRET}\nDEBUG=1\n")
    write(
        tmp_path / ".env_prod",
        f"DB_HOST=db.prod\nDB_PASSWORD={SECRET}\nURL=pg://{SECRET}@db.prod\n",
    )
    write(tmp_path / ".env_broken", f"DB_HOST=x\nDB_PASSWORD={SECRET}\n{SECRET}\n")
    return tmp_path


def report(root: Path) -> EnvReport:
    return env_report(root, required=["DB_HOST", "DB_PASSWORD", "DEBUG"], secret=["DB_PASSWORD"])


def test_env_report_json(project: Path) -> None:
    data = report(project).to_json()
    json.dumps(data)  # serialisable as is
    assert data["ok"] is False
    by_name = {p["name"]: p for p in data["profiles"]}
    assert list(by_name) == ["broken", "dev", "prod"]
    dev, prod, broken = by_name["dev"], by_name["prod"], by_name["broken"]
    assert dev["ok"] is True
    assert dev["default"] is True
    assert dev["values"] == {"DB_HOST": "localhost", "DB_PASSWORD": "****", "DEBUG": "1"}
    assert dev["secret_keys"] == ["DB_PASSWORD"]
    assert prod["missing"] == ["DEBUG"]
    assert prod["values"]["URL"] == "pg://****@db.prod"  # (u:PW@ would be secret by itself)
    assert broken["error"].startswith(f"{project / '.env_broken'}:3: ")
    assert broken["values"] == {}
    diffs = {d["key"]: d for d in data["differences"]}
    assert diffs["DB_HOST"]["values_differ"] is True
    assert diffs["DEBUG"]["missing_from"] == ["prod"]
    assert diffs["DB_PASSWORD"] == {
        "key": "DB_PASSWORD",
        "present_in": ["dev", "prod"],
        "missing_from": [],
        "values_differ": True,
        "secret": True,
    }


def test_env_report_text(project: Path) -> None:
    text = report(project).to_text()
    lines = text.splitlines()
    assert lines[0].split() == ["KEY", "broken", "dev", "(default)", "prod"]
    row = {line.split()[0]: line.split()[1:] for line in lines[1:5]}
    assert row["DB_HOST"] == ["?", "localhost", "db.prod"]
    assert row["DB_PASSWORD"] == ["(secret)", "?", "****", "****"]
    assert row["DEBUG"] == ["?", "1", "MISSING"]
    assert "prod: missing required DEBUG" in text
    assert "broken: error: " in text
    assert "DEBUG: missing from prod" in text


def test_secret_never_appears_in_any_report_output(project: Path) -> None:
    r = report(project)
    outputs = [r.to_text(), json.dumps(r.to_json()), repr(r)]
    for out in outputs:
        assert SECRET not in out
        assert "devpw" not in out  # the whole dev secret, prefix included, is masked


def test_a_prod_secret_is_masked_in_every_profile(tmp_path: Path) -> None:
    write(tmp_path / ".env_prod", f"TOKEN={SECRET}\n")
    write(tmp_path / ".env_dev", f"NOTE=copied {SECRET} here\n")
    r = env_report(tmp_path, secret=["TOKEN"])
    assert SECRET not in r.to_text()
    assert r.to_json()["profiles"][0]["values"] == {"NOTE": "copied **** here"}


def test_report_cells_are_one_line_and_short(tmp_path: Path) -> None:
    write(tmp_path / ".env_dev", 'MULTI="a\nb"\nLONG=' + "x" * 100 + "\nEMPTY=\n")
    text = env_report(tmp_path).to_text()
    assert "a\\nb" in text
    assert "x" * 31 + "…" in text
    assert "x" * 32 not in text
    assert '""' in text
    assert text.splitlines()[4:] == [  # one line per key, then what is missing
        "missing profile prod (labship run --profile prod): create .env_prod with mode 600 "
        "(touch .env_prod && chmod 600 .env_prod)"
    ]


def test_report_without_profiles(tmp_path: Path) -> None:
    r = env_report(tmp_path, required=["A"])
    assert r.ok is False
    assert "create .env_dev" in r.to_text()
    assert r.to_json()["profiles"] == []


def test_missing_profiles_are_named_with_who_needs_them_and_how_to_make_them(
    tmp_path: Path,
) -> None:
    write(tmp_path / ".env_dev", "A=1\nB=2\n")
    write(tmp_path / ".env.example", "A=\nB=\n")
    write(tmp_path / "docker-compose.yml", "services:\n  x:\n    env_file: [.env_dev, .env_ci]\n")
    write(tmp_path / "compose.prod.yaml", "services:\n  y:\n    env_file: .env_prod\n")
    write(tmp_path / "notes.yml", "env_file: .env_other\n")  # not a compose file

    r = env_report(tmp_path, required=["A", "B"])

    missing = {m.name: m for m in r.missing_profiles}
    assert list(missing) == ["prod", "ci"]
    assert missing["prod"].named_by == ("labship run --profile prod", "compose.prod.yaml")
    assert missing["ci"].named_by == ("docker-compose.yml",)
    hint = "make it from .env.example: cp .env.example .env_ci && chmod 600 .env_ci"
    assert missing["ci"].hint == f"{hint}, then set A, B in it"
    text = r.to_text()
    assert f"missing profile ci (docker-compose.yml): {hint}" in text
    assert "missing profile prod (labship run --profile prod, compose.prod.yaml)" in text
    assert r.ok is True  # said, not a failure: prod secrets need not be on every machine
    assert r.to_json()["missing_profiles"][1] == {
        "name": "ci",
        "named_by": ["docker-compose.yml"],
        "hint": f"{hint}, then set A, B in it",
    }


@pytest.mark.parametrize(
    ("mode", "text", "warned"),
    [
        (0o644, "DB_PASSWORD=pw\n", True),
        (0o640, "DB_PASSWORD=pw\n", True),
        (0o604, "DB_PASSWORD=pw\n", True),
        (0o600, "DB_PASSWORD=pw\n", False),
        (0o644, "DB_PASSWORD=\n", False),  # a secret key, but nothing in it
        (0o644, "HOST=h\n", False),  # nothing secret at all
    ],
)
def test_a_profile_holding_secrets_that_others_may_read_is_warned_about(
    tmp_path: Path, mode: int, text: str, warned: bool
) -> None:
    path = write(tmp_path / ".env_prod", text)
    path.chmod(mode)

    r = env_report(tmp_path, secret=["DB_PASSWORD"])

    (prod,) = r.profiles
    assert prod.open_to_others is warned
    assert prod.to_json()["mode"] == f"{mode:04o}"
    warning = f"warning: .env_prod holds secrets and other users may read it (mode {mode:04o})"
    assert (warning in r.to_text()) is warned
    assert ("chmod 600 .env_prod" in r.to_text()) is warned
    assert "pw" not in r.to_text()


def test_a_profile_without_a_final_newline_is_noted(tmp_path: Path) -> None:
    write(tmp_path / ".env_dev", "A=1\nB=2")
    write(tmp_path / ".env_prod", "")
    r = env_report(tmp_path)
    dev, prod = r.profiles
    assert (dev.ends_with_newline, prod.ends_with_newline) == (False, True)
    assert "note: .env_dev does not end with a newline" in r.to_text()
    assert ".env_prod does not end" not in r.to_text()
    assert dev.values == {"A": "1", "B": "2"}


def test_the_report_counts_dotenv_as_every_profiles_base(tmp_path: Path) -> None:
    """`labship env` and `labship run` agree: .env's values are in every profile."""
    (tmp_path / ".env").write_text("SHARED=base\n")
    (tmp_path / ".env_dev").write_text("OWN=dev\n")
    report = env_report(tmp_path, required=("SHARED", "OWN"))
    (dev,) = report.profiles
    assert dev.values == {"SHARED": "base", "OWN": "dev"} and dev.missing == ()


def test_env_report_says_which_environment_each_runtime_variable_is_for(project: Path) -> None:
    from dataclasses import replace

    from labship.profiles.report import RuntimeVariables

    prod = RuntimeVariables("prod", "jobs", ("/s/p/conda/bin",), (("CONDA_PREFIX", "/s/p/conda"),))
    dev = RuntimeVariables("dev", "the lab", ("/s/d/conda/bin",), (("CONDA_PREFIX", "/s/d/conda"),))
    r = replace(report(project), runtime_variables=(prod, dev))
    text = r.to_text()
    assert "  prod environment (jobs):\n    PATH: /s/p/conda/bin after the venv's bin\n" in text
    assert "  dev environment (the lab):\n" in text and "CONDA_PREFIX=/s/d/conda" in text
    data = json.loads(json.dumps(r.to_json()))
    assert data["runtime_variables"][0] == {
        "set": "prod",
        "used_by": "jobs",
        "path_after_venv": ["/s/p/conda/bin"],
        "variables": {"CONDA_PREFIX": "/s/p/conda"},
    }
    assert data["runtime_variables"][1]["path_after_venv"] == ["/s/d/conda/bin"]
