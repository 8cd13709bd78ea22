"""``labship lock`` against the real uv and the real package index (small packages only)."""

from __future__ import annotations

import re
import subprocess
import textwrap
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.version import Version

from conftest import MakeProject, labship
from labship.lock import read_lock
from labship.project import load_project
from labship.tools.uv import uv_bin

LINUX_X86_64 = {"sys_platform": "linux", "platform_machine": "x86_64"}
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _load(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _versions(path: Path) -> dict[str, str]:
    return {p["name"]: p["version"] for p in _load(path)["packages"]}


def _lock_ok(root: Path) -> None:
    labship("lock", cwd=root, check=True)


def _assert_error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    """Exit ``code``; exactly one ``labship: error:`` line; nothing but labship's lines."""
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("labship: error: ")]
    assert len(errors) == 1, proc.stderr
    foreign = [ln for ln in lines if not ln.startswith("labship: ")]
    assert not foreign, f"output not from labship: {foreign}"
    return errors[0]


def _set_spec(root: Path, spec: str, *, python: bool = True) -> None:
    """Point labship.toml at another spec file, optionally dropping its python line."""
    config = root / "labship.toml"
    text = config.read_text().replace('spec = "requirements.txt"', f'spec = "{spec}"')
    if not python:
        text = re.sub(r'(?m)^python = ".*"\n', "", text)
    config.write_text(text)


# ----------------------------------------------------------------------- the lock files


def test_lock_pins_everything_with_hashes(make_project: MakeProject) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    root = make_project(requirements="six==1.16.0\nrequests==2.32.3\n")
    proc = labship("lock", cwd=root, check=True)
    assert "Traceback" not in proc.stderr

    prod_path, dev_path = root / "pylock.toml", root / "pylock.dev.toml"
    for path in (prod_path, dev_path):
        data = _load(path)
        assert data["lock-version"] == "1.0"
        assert data["packages"], path
        for pkg in data["packages"]:
            Version(pkg["version"])  # an exact version, not a range
            artifacts = list(pkg.get("wheels", []))
            if "sdist" in pkg:
                artifacts.append(pkg["sdist"])
            assert artifacts, f"{path.name}: {pkg['name']} has no wheel or sdist"
            for artifact in artifacts:
                assert SHA256.match(artifact["hashes"]["sha256"]), (pkg["name"], artifact)
        # production runs on Linux x86_64: the lock must cover it
        envs = data["environments"]
        assert any(Marker(m).evaluate(LINUX_X86_64) for m in envs), envs

    prod, dev = _versions(prod_path), _versions(dev_path)
    # direct and transitive
    direct = {"six", "requests"}
    transitive = {"idna", "urllib3", "certifi", "charset-normalizer"}
    assert direct | transitive <= set(prod), prod
    assert prod["six"] == "1.16.0" and prod["requests"] == "2.32.3"
    # dev = prod + dev packages, shared ones at the same versions
    assert set(prod) <= set(dev)
    assert {name: dev[name] for name in prod} == prod
    assert dev["iniconfig"] == "2.0.0"
    assert "iniconfig" not in prod

    for path, set_name in ((prod_path, "prod"), (dev_path, "dev")):
        meta = _load(path)["tool"]["labship"]
        assert meta["set"] == set_name
        assert meta["python"] == _python_of(root)
        assert SHA256.match(meta["inputs"]), meta
        uv_out = subprocess.run([uv_bin(), "--version"], capture_output=True, text=True).stdout
        assert meta["uv-version"] == uv_out.split()[1]
        resolved = datetime.strptime(meta["resolved-at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert started <= resolved <= datetime.now(UTC) + timedelta(seconds=1)
    assert (
        _load(prod_path)["tool"]["labship"]["inputs"]
        == _load(dev_path)["tool"]["labship"]["inputs"]
    )


def _python_of(root: Path) -> str:
    return tomllib.loads((root / "labship.toml").read_text())["project"]["python"]


def test_dev_set_is_constrained_to_prod(make_project: MakeProject) -> None:
    # pytest, alone, would take the newest packaging; prod pins an old one.
    root = make_project(
        requirements="packaging==23.2\n",
        dev_packages=("iniconfig==2.0.0", "pytest==8.3.3"),
    )
    _lock_ok(root)
    prod, dev = _versions(root / "pylock.toml"), _versions(root / "pylock.dev.toml")
    assert prod["packaging"] == "23.2"
    assert dev["packaging"] == "23.2"
    assert dev["pytest"] == "8.3.3"
    assert "pytest" not in prod and "pluggy" not in prod


def test_environment_yml_locks(make_project: MakeProject) -> None:
    root = make_project()
    (root / "environment.yml").write_text(
        textwrap.dedent(
            """\
            name: demo
            channels:
              - conda-forge
            dependencies:
              - python=3.11
              - six=1.16
              - pip
              - pip:
                  - idna==3.7
            """
        )
    )
    _set_spec(root, "environment.yml", python=False)
    _lock_ok(root)
    prod = _versions(root / "pylock.toml")
    assert prod["six"].startswith("1.16."), prod
    assert prod["idna"] == "3.7"
    meta = _load(root / "pylock.toml")["tool"]["labship"]
    assert meta["python"] == "3.11"
    assert meta["spec"] == "environment.yml"
    assert labship("lock", "--check", cwd=root).returncode == 0


# ----------------------------------------------------------------------- lock --check


def test_check_fresh_comment_and_changes(make_project: MakeProject) -> None:
    root = make_project(requirements="six==1.16.0\n")
    _lock_ok(root)
    proc = labship("lock", "--check", cwd=root)
    assert proc.returncode == 0, proc.stderr

    # a comment only: same meaning, still fresh
    (root / "requirements.txt").write_text("# the one dependency\nsix==1.16.0  # pinned\n")
    proc = labship("lock", "--check", cwd=root)
    assert proc.returncode == 0, proc.stderr

    # a requirement changes: stale
    (root / "requirements.txt").write_text("six==1.16.0\nidna==3.7\n")
    proc = labship("lock", "--check", cwd=root)
    err = _assert_error(proc, 77)
    assert "stale" in err

    # locking again makes it fresh
    _lock_ok(root)
    assert labship("lock", "--check", cwd=root).returncode == 0


def test_check_stale_when_lab_packages_change(make_project: MakeProject) -> None:
    root = make_project()
    _lock_ok(root)
    assert labship("lock", "--check", cwd=root).returncode == 0
    config = root / "labship.toml"
    config.write_text(
        config.read_text().replace('packages = ["iniconfig==2.0.0"]', 'packages = ["iniconfig"]')
    )
    assert 'packages = ["iniconfig"]' in config.read_text()
    _assert_error(labship("lock", "--check", cwd=root), 77)


@pytest.mark.parametrize("missing", ["pylock.toml", "pylock.dev.toml", "both"])
def test_check_missing_lock(make_project: MakeProject, missing: str) -> None:
    root = make_project()
    if missing != "both":
        _lock_ok(root)
        (root / missing).unlink()
    err = _assert_error(labship("lock", "--check", cwd=root), 77)
    assert "labship lock" in err


# ----------------------------------------------------------------------- atomicity, reuse


def test_failed_lock_keeps_previous_files(make_project: MakeProject) -> None:
    root = make_project()
    _lock_ok(root)
    before = {name: (root / name).read_bytes() for name in ("pylock.toml", "pylock.dev.toml")}
    (root / "requirements.txt").write_text(
        "six==1.16.0\nthis-package-does-not-exist-labship==1.0\n"
    )
    _assert_error(labship("lock", cwd=root), 76)
    after = {name: (root / name).read_bytes() for name in before}
    assert after == before
    assert sorted(p.name for p in root.glob("*pylock*")) == ["pylock.dev.toml", "pylock.toml"]


def test_relock_same_inputs_same_hash(make_project: MakeProject) -> None:
    root = make_project()
    _lock_ok(root)
    first = read_lock(load_project(root))
    first_meta = (root / "pylock.toml").read_text()

    # same inputs, and the same meaning written differently: the tool table changes
    # (inputs-digest), the content hash, the key of the environment, does not.
    _lock_ok(root)
    (root / "requirements.txt").write_text("# pinned for the demo\nsix==1.16.0\n")
    proc = labship("lock", cwd=root, check=True)
    assert "unchanged" in proc.stderr
    second = read_lock(load_project(root))
    assert (root / "pylock.toml").read_text() != first_meta
    assert second.prod_hash == first.prod_hash
    assert second.dev_hash == first.dev_hash

    # and a real change does change it
    (root / "requirements.txt").write_text("six==1.15.0\n")
    _lock_ok(root)
    third = read_lock(load_project(root))
    assert third.prod_hash != first.prod_hash


# ----------------------------------------------------------------------- errors


def test_malformed_yaml(make_project: MakeProject) -> None:
    root = make_project()
    (root / "environment.yml").write_text("dependencies:\n  - six=1.16\n - [unclosed\n")
    _set_spec(root, "environment.yml")
    err = _assert_error(labship("lock", cwd=root), 65)
    assert "environment.yml" in err
    assert not (root / "pylock.toml").exists()


def test_malformed_toml(make_project: MakeProject) -> None:
    root = make_project()
    (root / "labship.toml").write_text('[project\nname = "demo"\n')
    err = _assert_error(labship("lock", cwd=root), 78)
    assert "labship.toml" in err


def test_unknown_package(make_project: MakeProject) -> None:
    root = make_project(requirements="this-package-does-not-exist-labship==1.0\n")
    err = _assert_error(labship("lock", cwd=root), 76)
    assert "this-package-does-not-exist-labship" in err
    assert not (root / "pylock.toml").exists()


@pytest.mark.parametrize(
    ("requirements", "names"),
    [
        ("six==1.16.0\nsix==1.15.0\n", ["six"]),
        # wheel 0.46 requires packaging>=24
        ("packaging==23.2\nwheel==0.46.1\n", ["packaging", "wheel"]),
    ],
    ids=["same-package", "transitive"],
)
def test_unsatisfiable_pins(make_project: MakeProject, requirements: str, names: list[str]) -> None:
    root = make_project(requirements=requirements)
    err = _assert_error(labship("lock", cwd=root), 76)
    for name in names:
        assert name in err


def test_no_wheel_for_python(make_project: MakeProject) -> None:
    root = make_project(requirements="pandas==1.3.5\n")
    config = root / "labship.toml"
    config.write_text(re.sub(r'(?m)^python = ".*"$', 'python = "3.11"', config.read_text()))
    proc = labship("lock", cwd=root)
    err = _assert_error(proc, 76)
    assert "pandas" in err and "1.3.5" in err
    span = re.search(r"(\d+\.\d+\.\d+) to (\d+\.\d+\.\d+)", err)
    assert span, err
    low, high = (Version(v) for v in span.groups())
    # pandas' first release with CPython 3.11 wheels is 1.5.0
    assert Version("1.5.0") <= low <= high
    combined = (proc.stdout + proc.stderr).lower()
    for compiler_noise in ("gcc", "cython", "building wheel", "setup.py", "traceback"):
        assert compiler_noise not in combined
    assert not (root / "pylock.toml").exists()


def test_missing_python_version(make_project: MakeProject) -> None:
    root = make_project()
    _set_spec(root, "requirements.txt", python=False)
    assert "python" not in tomllib.loads((root / "labship.toml").read_text())["project"]
    err = _assert_error(labship("lock", cwd=root), 78)
    assert "Python" in err


def test_not_a_project(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    err = _assert_error(labship("lock", cwd=folder), 66)
    assert "not a labship project" in err
