"""labship.project.settings: reading labship.toml, and writing it back unchanged."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from labship import runtimes
from labship.errors import ConfigError
from labship.project.settings import (
    Job,
    Settings,
    name_from,
    parse_settings,
    read_settings,
    render_settings,
    valid_name,
    valid_python,
)


def _settings(**tables: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"project": {"name": "demo"}}
    for key, value in tables.items():
        if key == "project":
            data["project"] = {"name": "demo", **value}
        else:
            data[key] = value
    return data


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_settings(data, source="labship.toml")
    assert info.value.exit_code == 78
    return str(info.value)


def test_minimal_defaults() -> None:
    s = parse_settings({"project": {"name": "demo"}}, source="x")
    assert s.name == "demo"
    assert s.python is None
    assert s.spec == "docker/environment.yml"
    assert s.runtime == "auto"
    assert s.lab_port == 8888
    assert s.dev_packages == ("jupyterlab",)
    assert dict(s.jobs) == {}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"project": {"name": "demo"}, "projcet": {}}, "projcet"),
        (_settings(project={"pyhton": "3.11"}), "pyhton"),
        (_settings(lab={"prot": 8888}), "prot"),
        (_settings(env={"secrets": ["X"]}), "secrets"),
        (_settings(jobs={"train": {"command": "python t.py", "cmd": "x"}}), "cmd"),
        (_settings(docker={"imag": "x"}), "imag"),
        (_settings(check={"skip_import": ["x"]}), "skip_import"),
    ],
)
def test_unknown_key_is_named(data: dict[str, Any], key: str) -> None:
    message = _error(data)
    assert repr(key) in message
    assert "labship.toml" in message


@pytest.mark.parametrize("port", [0, -1, 65536, "8888", 8888.0, True])
def test_bad_port(port: object) -> None:
    assert "port" in _error(_settings(lab={"port": port}))


@pytest.mark.parametrize("port", [1, 8888, 65535])
def test_good_port(port: int) -> None:
    assert parse_settings(_settings(lab={"port": port}), source="x").lab_port == port


@pytest.mark.parametrize("python", ["3", "3.11.4", "python3.11", "3.x", "2.7.18", " 3.11"])
def test_bad_python(python: str) -> None:
    assert "python" in _error(_settings(project={"python": python}))


def test_python_must_be_a_string() -> None:
    assert "python" in _error(_settings(project={"python": 3.11}))


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.9"])
def test_good_python(python: str) -> None:
    assert parse_settings(_settings(project={"python": python}), source="x").python == python


@pytest.mark.parametrize("name", ["demo\n", "Demo", "-demo", ".demo", "a b", "", "dém"])
def test_bad_names(name: str) -> None:
    assert not valid_name(name)
    assert "name" in _error({"project": {"name": name}})


@pytest.mark.parametrize("python", ["3.11\n", "3.\u0661\u0661", "3.", "4.0"])
def test_python_is_major_dot_minor_in_ascii(python: str) -> None:
    assert not valid_python(python)


@pytest.mark.parametrize(
    ("text", "name"),
    [("My Churn Model", "my-churn-model"), ("churn.v2", "churn.v2"), ("__x__", "x"), ("!!", None)],
)
def test_name_from(text: str, name: str | None) -> None:
    assert name_from(text) == name


def test_bad_name_and_runtime() -> None:
    assert "name" in _error({"project": {"name": "My Project"}})
    assert "name" in _error({"project": {}})
    assert "runtime" in _error(_settings(project={"runtime": "no such!"}))
    assert "runtime" in _error(_settings(project={"runtime": 3}))


def test_job_command_forms() -> None:
    s = parse_settings(
        _settings(
            jobs={
                "listed": {"command": ["python", "code/train.py", "--name", "a b"]},
                "string": {"command": "python code/train.py --name 'a b'", "description": "d"},
                "bare": "python code/bare.py",
            }
        ),
        source="x",
    )
    assert s.jobs["listed"].argv == ("python", "code/train.py", "--name", "a b")
    assert s.jobs["string"].argv == ("python", "code/train.py", "--name", "a b")
    assert s.jobs["string"].description == "d"
    assert s.jobs["bare"].argv == ("python", "code/bare.py")


@pytest.mark.parametrize("command", [[], "", "   ", None])
def test_job_command_missing_or_empty(command: object) -> None:
    body = {} if command is None else {"command": command}
    assert "[jobs.train] command is missing or empty" in _error(_settings(jobs={"train": body}))


@pytest.mark.parametrize("command", [42, 1.5, True, ["python", 3], {"argv": "x"}])
def test_job_command_of_the_wrong_type_says_so(command: object) -> None:
    message = _error(_settings(jobs={"train": {"command": command}}))
    assert "[jobs.train] command must be a string or a list of strings" in message
    assert "missing" not in message


def test_job_command_with_an_open_quote_names_the_job() -> None:
    message = _error(_settings(jobs={"train": {"command": "python 'code/train.py"}}))
    assert "[jobs.train] command cannot be split" in message
    assert "quotation" in message  # shlex's own words: what is wrong
    assert "\n" not in message


def _job_with(**keys: object) -> dict[str, Any]:
    return _settings(jobs={"train": {"command": "python t.py", **keys}})


def test_schedule_keys_are_read() -> None:
    data = _job_with(
        schedule="0 22 * * mon-fri",
        timezone="Europe/Berlin",
        timeout="2h",
        profile="staging",
        runtime="docker",
        ping_url="https://hc-ping.com/abc",
    )
    job = parse_settings(data, source="x").jobs["train"]
    assert (job.schedule, job.timezone, job.timeout) == ("0 22 * * mon-fri", "Europe/Berlin", 7200)
    assert (job.profile, job.runtime, job.ping_url) == (
        "staging",
        "docker",
        "https://hc-ping.com/abc",
    )
    plain = parse_settings(_job_with(), source="x").jobs["train"]
    assert (plain.schedule, plain.timezone, plain.timeout, plain.profile) == ("", "", None, "prod")


@pytest.mark.parametrize(
    ("timeout", "seconds"), [(90, 90), ("90", 90), ("90s", 90), ("30m", 1800), ("1d", 86400)]
)
def test_timeout_units(timeout: object, seconds: int) -> None:
    assert parse_settings(_job_with(timeout=timeout), source="x").jobs["train"].timeout == seconds


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            {"schedule": "61 * * * *"},
            "[jobs.train] schedule = '61 * * * *': minute field: 61 is out",
        ),
        ({"schedule": "* * * * * *"}, "has 6 fields: cron has no seconds field"),
        ({"schedule": "@reboot"}, "@reboot is not a schedule"),
        ({"schedule": 5}, "[jobs.train] schedule must be a string"),
        ({"timezone": "Mars/Olympus"}, "[jobs.train] timezone = 'Mars/Olympus' is not a time zone"),
        ({"timezone": "../etc/passwd"}, "is not a time zone"),
        ({"timeout": 0}, "[jobs.train] timeout must be a positive number of seconds"),
        ({"timeout": "2 hours"}, "[jobs.train] timeout must be a positive number of seconds"),
        ({"timeout": True}, "[jobs.train] timeout must be a positive number of seconds"),
        ({"profile": "../prod"}, "[jobs.train] profile = '../prod' is not a profile name"),
        ({"runtime": "Docker!"}, "[jobs.train] runtime = 'Docker!' is not a runtime name"),
        ({"ping_url": "hc-ping.com/x"}, "[jobs.train] ping_url must be an http:// or https:// URL"),
    ],
)
def test_bad_schedule_keys_name_the_key_and_the_reason(keys: dict[str, Any], expected: str) -> None:
    message = _error(_job_with(**keys))
    assert expected in message
    assert message.startswith("labship.toml: ")


@pytest.mark.parametrize("spec", ["/proc/self/environ", "../shared/environment.yml", "a/../../x"])
def test_the_spec_stays_inside_the_project(spec: str) -> None:
    message = _error(_settings(project={"spec": spec}))
    assert "[project] spec" in message and "not a path inside the project" in message


@pytest.mark.parametrize("spec", [".env_prod", "config/.env", ".env_dev.txt"])
def test_the_spec_is_no_profile(spec: str) -> None:
    """A profile holds secrets; read as a spec, its first line would be quoted in an error."""
    assert "is a profile" in _error(_settings(project={"spec": spec}))


def test_a_spec_linked_out_of_the_project_is_refused_where_it_is_read(tmp_path: Path) -> None:
    from labship.project import load_project

    (tmp_path / "labship.toml").write_text('[project]\nname = "demo"\nspec = "req.txt"\n')
    (tmp_path / "req.txt").symlink_to("/etc/hostname")
    with pytest.raises(ConfigError, match="leads outside the project"):
        _ = load_project(tmp_path).spec_path


@pytest.mark.parametrize(
    ("command", "what"),
    [
        ("../other/run.sh", "outside the project"),
        ("code/../../run.sh x", "outside the project"),
        (["code/../../run.sh"], "outside the project"),
        (["python", "a\0b"], "NUL"),
    ],
)
def test_a_job_command_names_nothing_outside_the_project(command: object, what: str) -> None:
    message = _error(_settings(jobs={"train": {"command": command}}))
    assert "[jobs.train] command" in message and what in message


def test_a_job_script_path_inside_the_project_and_a_program_are_fine() -> None:
    jobs = {
        "a": "code/run.sh --out /tmp/x",
        "b": "python ../elsewhere.py",
        "c": "./run.sh",
        "d": "/opt/conda/bin/python code/train.py",  # a program of the machine or the image
    }
    parsed = parse_settings(_settings(jobs=jobs), source="x").jobs
    assert parsed["a"].argv[0] == "code/run.sh"  # arguments are the program's business
    assert parsed["b"].argv == ("python", "../elsewhere.py")
    assert parsed["d"].argv[0] == "/opt/conda/bin/python"


@pytest.mark.parametrize("timeout", [-1, 3601, 1.5, "10", True])
def test_bad_stop_timeout(timeout: object) -> None:
    message = _error(_settings(jobs={"t": {"command": "python t.py", "stop_timeout": timeout}}))
    assert "stop_timeout must be a whole number of seconds from 0 to 3600" in message


def test_stop_timeout_defaults_to_docker_stops_ten_seconds() -> None:
    jobs = parse_settings(_settings(jobs={"t": "python t.py"}), source="x").jobs
    assert jobs["t"].stop_timeout == 10


@pytest.mark.parametrize("version", ["1.0\nRUN x", " 1.0", "1.0 beta", "-1", "v" * 129])
def test_bad_version(version: str) -> None:
    assert "[project] version" in _error(_settings(project={"version": version}))


@pytest.mark.parametrize(
    ("keys", "cpu", "memory"),
    [
        ({"cpu": "500m", "memory": "512Mi"}, "500m", "512Mi"),
        ({"cpu": 2, "memory": "1.5Gi"}, "2", "1.5Gi"),
        ({"cpu": "0.25", "memory": "128974848"}, "0.25", "128974848"),
        ({"cpu": ".5", "memory": "129e6"}, ".5", "129e6"),
        ({}, "", ""),
    ],
)
def test_resources_are_kubernetes_quantities(keys: dict[str, Any], cpu: str, memory: str) -> None:
    job = parse_settings(_job_with(**keys), source="x").jobs["train"]
    assert (job.cpu, job.memory, job.writable) == (cpu, memory, False)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"cpu": "half"}, "[jobs.train] cpu must be a positive Kubernetes quantity"),
        ({"cpu": "-1"}, "[jobs.train] cpu must be a positive Kubernetes quantity"),
        ({"cpu": 0}, "[jobs.train] cpu must be a positive Kubernetes quantity"),
        ({"cpu": 0.5}, "[jobs.train] cpu must be a positive Kubernetes quantity"),
        ({"cpu": True}, "[jobs.train] cpu must be a positive Kubernetes quantity"),
        ({"cpu": "500 m"}, "[jobs.train] cpu must be a positive Kubernetes quantity"),
        ({"memory": "512MB"}, "[jobs.train] memory must be a positive Kubernetes quantity"),
        ({"memory": "1mi"}, "[jobs.train] memory must be a positive Kubernetes quantity"),
        ({"memory": "512m"}, "[jobs.train] memory = '512m' means thousandths of a byte"),
        ({"writable": "yes"}, "[jobs.train] writable must be true or false"),
    ],
)
def test_bad_resources_name_the_key(keys: dict[str, Any], expected: str) -> None:
    message = _error(_job_with(**keys))
    assert expected in message and message.startswith("labship.toml: ")


def test_lists_of_strings() -> None:
    assert "packages" in _error(_settings(lab={"packages": "jupyterlab"}))
    assert "required" in _error(_settings(env={"required": ["A", 1]}))
    s = parse_settings(
        _settings(env={"required": ["A"], "secret": ["B"], "public": ["C_KEY"]}), source="x"
    )
    assert s.required == ("A",) and s.secret == ("B",) and s.public == ("C_KEY",)
    assert "public" in _error(_settings(env={"public": "C_KEY"}))
    assert "skip_imports" in _error(_settings(check={"skip_imports": "pyautogui"}))


def test_read_settings_malformed_toml(tmp_path: Path) -> None:
    path = tmp_path / "labship.toml"
    path.write_text("[project\n")
    with pytest.raises(ConfigError) as info:
        read_settings(path)
    assert str(path) in str(info.value) and "TOML" in str(info.value)


def test_a_labship_toml_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "labship.toml"
    path.write_bytes('[project]\nname = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        read_settings(path)
    assert str(info.value) == f"{path}: is not UTF-8 text; save it as UTF-8"
    proc = subprocess.run(
        [sys.executable, "-m", "labship", "-C", str(tmp_path), "runs"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 78
    assert proc.stderr.strip().splitlines() == [f"labship: error: {info.value}"]


# ------------------------------------------------------------------ render


def _round_trip(settings: Settings) -> Settings:
    return parse_settings(tomllib.loads(render_settings(settings)), source="rendered")


def test_render_defaults_round_trip_and_say_only_what_is_set() -> None:
    settings = Settings(name="demo")
    text = render_settings(settings)
    assert _round_trip(settings) == settings
    absent_keys = ("python =", "runtime =", "[jobs", "base_image", "ca_bundle", "description")
    for absent in (*absent_keys, "keep_in_prod", "registry", "[check]"):
        assert absent not in text, absent


def test_render_every_field_round_trips() -> None:
    jobs = {
        "train": Job("train", ("python", "code/train.py"), "fit the model"),
        "odd name": Job("odd name", ("python", "-c", "print('a b')", "")),
        "slow": Job("slow", ("code/stop.sh",), stop_timeout=45),
    }
    settings = Settings(
        name="churn.v2",
        version="2.0.0rc1",
        python="3.12",
        spec="requirements.txt",
        runtime="docker",
        jobs=jobs,
        lab_port=8890,
        dev_packages=(),
        keep_in_prod=("ipykernel",),
        required=("RANDOM_SEED",),
        secret=("DB_PASSWORD",),
        public=("SORT_KEY",),
        image="registry.example/churn",
        base_image="python:3.12-slim",
        system_packages=("unixodbc",),
        ca_bundle="certs/corp.pem",
        registry="127.0.0.1:5000/team",
        skip_imports=("pyautogui",),
    )
    assert _round_trip(settings) == settings
    text = render_settings(settings)
    assert 'command = "python code/train.py"' in text  # as a person would write it
    assert "`labship run 'odd name'`" in text
    assert '[jobs."odd name"]' in text
    assert "stop_timeout = 45" in text and text.count("stop_timeout") == 1
    assert 'public = ["SORT_KEY"]' in text


def test_a_job_name_no_comment_can_hold_gets_none() -> None:
    settings = Settings(name="demo", jobs={"a\nb = 1": Job("a\nb = 1", ("true",))})
    assert _round_trip(settings) == settings
    assert "labship run" not in render_settings(settings)


_TEXT = st.text(max_size=12)
_SOME_TEXT = st.text(min_size=1, max_size=12)  # "" means the default: not a value of its own
_TUPLES = st.lists(_TEXT, max_size=3).map(tuple)


_SCHEDULES = st.sampled_from(["", "0 22 * * *", "*/5 8-18 * * mon-fri", "@daily", "0 0 1 jan *"])
_SCHEDULE_KEYS = st.fixed_dictionaries(
    {
        "schedule": _SCHEDULES,
        "timezone": st.sampled_from(["", "UTC", "Europe/Berlin", "Asia/Kolkata"]),
        "timeout": st.none() | st.integers(1, 10**7),
        "profile": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,8}", fullmatch=True),
        "runtime": st.sampled_from(["", *runtimes.choices()]),
        "ping_url": st.sampled_from(["", "https://hc-ping.com/x", 'http://127.0.0.1:8/p?a="b"']),
        "cpu": st.sampled_from(["", "500m", "2", "0.25", "1e3"]),
        "memory": st.sampled_from(["", "512Mi", "2Gi", "1.5G", "128974848"]),
        "writable": st.booleans(),
    }
)
_ARG = st.text(st.characters(blacklist_characters="\0"), max_size=12)
# What may be valid: no NUL, and a first word that names no path outside the project.
_PATH = st.lists(st.from_regex(r"[A-Za-z0-9_ .-]{1,8}", fullmatch=True), min_size=1, max_size=3)
_INSIDE = _PATH.map("/".join).filter(lambda p: ".." not in p.split("/"))
_SPEC = _INSIDE.filter(lambda p: not p.rpartition("/")[2].startswith(".env"))


@st.composite
def _jobs(draw: st.DrawFn) -> dict[str, Job]:
    names = draw(st.lists(_TEXT, max_size=3, unique=True))
    first = _ARG.filter(lambda a: "/" not in a) | _INSIDE | _INSIDE.map(lambda p: "/" + p)
    argvs = st.tuples(first, st.lists(_ARG, max_size=3)).map(lambda a: (a[0], *a[1]))
    timeouts = st.integers(0, 3600)
    return {
        name: Job(
            name, draw(argvs), draw(_TEXT), stop_timeout=draw(timeouts), **draw(_SCHEDULE_KEYS)
        )
        for name in names
    }


_SETTINGS = st.builds(
    Settings,
    name=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,15}", fullmatch=True),
    version=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,20}", fullmatch=True),
    python=st.none() | st.from_regex(r"3\.[0-9]{1,2}", fullmatch=True),
    spec=_SPEC,
    runtime=st.sampled_from(runtimes.choices()),
    jobs=_jobs(),
    lab_port=st.integers(1, 65535),
    dev_packages=_TUPLES,
    keep_in_prod=_TUPLES,
    required=_TUPLES,
    secret=_TUPLES,
    public=_TUPLES,
    image=_TEXT,
    base_image=st.none() | _SOME_TEXT,
    system_packages=_TUPLES,
    ca_bundle=st.none() | _SOME_TEXT,
    registry=_TEXT,
    skip_imports=_TUPLES,
)


@examples(max_examples=300, deadline=None, database=None)
@given(_SETTINGS)
def test_render_then_parse_is_the_identity(settings: Settings) -> None:
    assert _round_trip(settings) == settings


def test_docker_registry_round_trips_and_is_said_in_the_file() -> None:
    settings = Settings(name="demo", registry="registry.example.com:5000/team")
    text = render_settings(settings)
    assert 'registry = "registry.example.com:5000/team"' in text
    assert "labship push" in text  # the comment says what the key is for
    assert _round_trip(settings) == settings
    data = {"project": {"name": "d"}, "docker": {"registry": "r.io/t"}}
    parsed = parse_settings(data, source="x")
    assert parsed.registry == "r.io/t"


# ------------------------------------------------------------------ [services]


def test_services_default_off() -> None:
    s = parse_settings({"project": {"name": "demo"}}, source="x")
    assert s.mlflow is False and s.mlflow_port is None
    assert s.lock_dev_packages == s.dev_packages == ("jupyterlab",)


def test_mlflow_joins_the_dev_set_once() -> None:
    s = parse_settings(_settings(services={"mlflow": True, "mlflow_port": 5001}), source="x")
    assert s.mlflow is True and s.mlflow_port == 5001
    assert s.lock_dev_packages == ("jupyterlab", "mlflow")
    named = _settings(lab={"packages": ["jupyterlab", "MLflow==3.17.2"]}, services={"mlflow": True})
    assert parse_settings(named, source="x").lock_dev_packages == ("jupyterlab", "MLflow==3.17.2")


@pytest.mark.parametrize(
    ("services", "words"),
    [
        ({"mlflow": "yes"}, "[services] mlflow must be true or false"),
        ({"mlflow": 1}, "[services] mlflow must be true or false"),
        ({"mlflow_port": 0}, "[services] mlflow_port must be a whole number from 1 to 65535"),
        ({"mlflow_port": "5000"}, "mlflow_port must be a whole number"),
        ({"mlflow_port": True}, "mlflow_port must be a whole number"),
        ({"mlflow_port": 8888}, "mlflow_port 8888 is also the lab's port"),
        ({"mlfow": True}, "[services] unknown key 'mlfow'"),
    ],
)
def test_bad_services(services: dict[str, Any], words: str) -> None:
    message = _error(_settings(services=services))
    assert words in message and "labship.toml" in message
    assert "\n" not in message


def test_services_must_be_a_table() -> None:
    assert "[services] must be a table" in _error(_settings(services=True))


@pytest.mark.parametrize("services", [{"mlflow": True}, {"mlflow": True, "mlflow_port": 5050}])
def test_services_render_and_read_back(services: dict[str, Any]) -> None:
    s = parse_settings(_settings(services=services), source="x")
    assert parse_settings(tomllib.loads(render_settings(s)), source="x") == s


def test_services_off_are_not_written() -> None:
    s = parse_settings({"project": {"name": "demo"}}, source="x")
    assert "[services]" not in render_settings(s)


def test_conda_is_off_unless_asked_for() -> None:
    assert parse_settings(_settings(), source="t").conda is False
    listed = parse_settings(_settings(conda={"packages": ["unixodbc >=2.3"]}), source="t")
    assert listed.conda is True and listed.conda_packages == ("unixodbc >=2.3",)
    channels = parse_settings(_settings(conda={"channels": ["file:///srv/ch"]}), source="t")
    assert channels.conda is True and channels.conda_channels == ("file:///srv/ch",)
    off = parse_settings(_settings(conda={"enabled": False, "packages": ["x"]}), source="t")
    assert off.conda is False


@pytest.mark.parametrize(
    ("conda", "expected"),
    [
        ({"enabled": "yes"}, "[conda] enabled must be true or false"),
        ({"packages": "gdal"}, "[conda] packages must be a list of strings"),
        ({"packages": [""]}, "[conda] packages: '' is not a conda match-spec"),
        ({"channels": ["has space"]}, "[conda] channels: 'has space' is not a channel"),
        ({"solver": "x"}, "[conda] unknown key 'solver'"),
    ],
)
def test_bad_conda_keys_name_the_key(conda: dict[str, Any], expected: str) -> None:
    assert expected in _error(_settings(conda=conda))


@pytest.mark.parametrize(
    "conda",
    [
        {"conda": True},
        {"conda": True, "conda_packages": ("labtool", "liblabfoo 1.*")},
        {"conda": False, "conda_channels": ("https://conda.example.com/main",)},
    ],
)
def test_conda_settings_round_trip(conda: dict[str, Any]) -> None:
    settings = Settings(name="demo", **conda)
    assert _round_trip(settings) == settings
