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
from labship.locking import read_lock
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


def test_a_harmless_edit_is_parsed_once_then_known(make_project: MakeProject) -> None:
    """A comment changes the spec's digest but not its meaning: the first check parses the
    spec and remembers the verdict in .labship/fresh.json; later ones do not parse it."""
    import json
    import sys

    from labship.locking import stale_reason

    root = make_project(requirements="six==1.16.0\n")
    _lock_ok(root)
    spec = root / "requirements.txt"
    spec.write_text("six==1.16.0  # pinned\n")
    project = load_project(root)
    assert stale_reason(project, read_lock(project, check=False)) is None
    fresh = root / ".labship" / "fresh.json"
    known = json.loads(fresh.read_text())
    assert known["inputs"] == read_lock(project, check=False).meta["inputs"]
    probe = (
        "import sys\nfrom pathlib import Path\nfrom labship.locking import read_lock\n"
        f"from labship.project import load_project\nread_lock(load_project(Path({str(root)!r})))\n"
        "print('labship.spec' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr  # known: the spec was not parsed
    # Another edit, with meaning: the record does not vouch for it.
    spec.write_text("six==1.16.0  # pinned\nidna==3.7\n")
    _assert_error(labship("lock", "--check", cwd=root), 77)
    assert json.loads(fresh.read_text()) == known
    # A record for other inputs is not trusted either.
    spec.write_text("six==1.16.0  # pinned\n")
    fresh.write_text(json.dumps({**known, "inputs": "0" * 64}))
    assert labship("lock", "--check", cwd=root).returncode == 0  # parsed again: fresh
    assert json.loads(fresh.read_text()) == known


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
        ("packaging==23.2\nwheel==0.46.3\n", ["packaging", "wheel"]),
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


# ----------------------------------------------------------------------- hostile input

SECRET = "s3cr3t-T0ken-labship"


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal, valid pure-Python wheel, for a --find-links folder."""
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "VALUE = 1\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in {**files, f"{dist}/RECORD": record}.items():
            archive.writestr(member, text)
    return path


def test_every_spec_feature_locks_and_no_credential_is_printed(make_project: MakeProject) -> None:
    """README 'The spec', all at once, against the real index; the extra index carries
    credentials (PyPI ignores them), which must appear nowhere labship prints."""
    root = make_project()
    _wheel(root / "wheels", "labship_probe", "1.0")
    (root / "docker").mkdir()
    (root / "docker" / "more.txt").write_text("iniconfig==2.0.0\n")
    idna = (
        "https://files.pythonhosted.org/packages/e5/3e/"
        "741d8c82801c347547f8a2a06aa57dbb1992be9e948df2ea0eda2c8b79e8/idna-3.7-py3-none-any.whl"
    )
    (root / "docker" / "environment.yml").write_text(
        textwrap.dedent(
            f"""\
            name: demo
            channels:
              - conda-forge
            dependencies:
              - python={_python_of(root)}
              - six=1.16
              - pip
              - pip:
                  - -r more.txt
                  - --index-url https://pypi.org/simple
                  - --extra-index-url https://labship:{SECRET}@pypi.org/simple
                  - --find-links ../wheels
                  - labship_probe==1.0
                  - idna @ {idna}
            variables:
              MODE: "batch \\"nightly\\""
              EMPTY: ""
            """
        )
    )
    _set_spec(root, "docker/environment.yml")
    proc = labship("lock", "-v", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    prod = _versions(root / "pylock.toml")
    assert prod["labship-probe"] == "1.0" and prod["idna"] == "3.7", prod
    assert prod["iniconfig"] == "2.0.0" and prod["six"].startswith("1.16.")
    for name in ("pylock.toml", "pylock.dev.toml"):
        meta = _load(root / name)["tool"]["labship"]
        assert meta["variables"] == {"MODE": 'batch "nightly"', "EMPTY": ""}
        assert SECRET not in (root / name).read_text()  # uv keeps index credentials out
    assert labship("lock", "--check", cwd=root).returncode == 0


def test_credentials_stay_out_of_errors(make_project: MakeProject) -> None:
    root = make_project()
    (root / "requirements.txt").write_text(
        f"--index-url https://labship:{SECRET}@pypi.org/simple\n"
        f"--index-url https://other:{SECRET}@example.org/simple\nsix\n"
    )
    proc = labship("lock", cwd=root)
    err = _assert_error(proc, 65)
    assert SECRET not in proc.stdout + proc.stderr
    assert "https://other:****@example.org/simple" in err


def test_variables_keep_both_locks_valid(make_project: MakeProject) -> None:
    """'variables:' once wrote invalid TOML over both locks, and run and lock --check then
    failed too (test_files.py: an invalid lock never replaces a valid one)."""
    root = make_project()
    spec = "dependencies:\n  - six=1.16\nvariables:\n  FOO: bar\n  BAZ: '1'\n"
    (root / "environment.yml").write_text(spec)
    _set_spec(root, "environment.yml")
    _lock_ok(root)
    for name in ("pylock.toml", "pylock.dev.toml"):
        assert _load(root / name)["tool"]["labship"]["variables"] == {"FOO": "bar", "BAZ": "1"}
    assert labship("lock", "--check", cwd=root).returncode == 0
    proc = labship("run", "hello", cwd=root)
    assert proc.returncode == 0 and "six 1.16" in proc.stdout, proc.stderr


# ----------------------------------------------------------------------- development tools


def test_development_tools_in_the_spec_stay_out_of_prod(make_project: MakeProject) -> None:
    root = make_project()
    spec = root / "environment.yml"
    spec.write_text("dependencies:\n  - six=1.16\n  - jupyterlab\n  - ipykernel\n")
    original = spec.read_bytes()
    _set_spec(root, "environment.yml")
    proc = labship("lock", cwd=root, check=True)
    assert "lists development tools (jupyterlab, ipykernel)" in proc.stderr
    assert 'keep_in_prod = ["ipykernel"]' in proc.stderr
    prod, dev = _versions(root / "pylock.toml"), _versions(root / "pylock.dev.toml")
    assert "six" in prod
    assert not {"jupyterlab", "ipykernel", "jupyter-server", "tornado"} & set(prod), prod
    assert {"jupyterlab", "ipykernel", "six", "iniconfig"} <= set(dev)
    assert {name: dev[name] for name in prod} == prod
    assert spec.read_bytes() == original  # the spec file is the user's

    # keeping one on purpose: the lock goes stale, and the tool is in prod after locking
    config = root / "labship.toml"
    config.write_text(
        config.read_text().replace("[lab]\n", '[lab]\nkeep_in_prod = ["ipykernel"]\n')
    )
    _assert_error(labship("lock", "--check", cwd=root), 77)
    proc = labship("lock", cwd=root, check=True)
    assert "(jupyterlab)" in proc.stderr
    prod = _versions(root / "pylock.toml")
    assert "ipykernel" in prod and "jupyterlab" not in prod
    assert labship("lock", "--check", cwd=root).returncode == 0


# ----------------------------------------------------------------------- unusable pins


def _report(proc: subprocess.CompletedProcess[str], count: int) -> dict[str, str]:
    """Exit 76; one error line per unusable pin, then the summary; pin -> its line."""
    assert proc.returncode == 76, proc.stderr
    lines = proc.stderr.splitlines()
    assert all(ln.startswith("labship: ") for ln in lines), proc.stderr
    errors = [ln.removeprefix("labship: error: ") for ln in lines if "error: " in ln]
    assert len(errors) == count + 1, proc.stderr
    assert f"{count} pins cannot be installed on Python 3.11" in errors[-1]
    return {line.split(": ")[1]: line for line in errors[:-1]}


def _span(line: str) -> tuple[Version, Version]:
    found = re.search(
        r"releases with a Python 3\.11 wheel: (\S+) to (\S+) \(nearest: ([^)]+)\)", line
    )
    assert found, line
    low, high, nearest = (Version(v) for v in found.groups())
    assert low <= nearest <= high, line
    return low, high


def _on_python_3_11(root: Path) -> None:
    from labship.tools.uv import find_python

    if find_python("3.11") is None:
        pytest.skip("these pins are judged for Python 3.11, which is not installed here")
    config = root / "labship.toml"
    config.write_text(re.sub(r'(?m)^python = ".*"$', 'python = "3.11"', config.read_text()))


def test_every_unusable_pin_at_once(make_project: MakeProject) -> None:
    """Old pins of a real project on Python 3.11, against the real index: one report."""
    from labship.tools.uv import find_python

    pins = "pandas==0.22.0\nscikit-learn==0.20.0\nsqlalchemy==1.2.1\npyodbc==4.0.23\nsix==1.16.0\n"
    root = make_project(requirements=pins)
    _on_python_3_11(root)
    proc = labship("lock", cwd=root)
    lines = _report(proc, 3)
    assert set(lines) == {"pandas==0.22.0", "scikit-learn==0.20.0", "pyodbc==4.0.23"}
    for pin, first_good in (("pandas", "1.5.0"), ("scikit-learn", "1.1.3"), ("pyodbc", "4.0.35")):
        line = next(v for k, v in lines.items() if k.startswith(pin + "=="))
        assert "no wheel for Python 3.11" in line, line
        low, high = _span(line)
        assert Version(first_good) <= low <= high, line
    where = find_python("3.6")
    installed = f"installed here ({where})" if where else "not installed here"
    assert f"0.22.0 has wheels up to Python 3.6, {installed}" in lines["pandas==0.22.0"]
    assert "0.20.0 has wheels up to Python 3.7" in lines["scikit-learn==0.20.0"]
    assert "4.0.23 has no wheel for Linux x86-64 for any Python" in lines["pyodbc==4.0.23"]
    # sqlalchemy 1.2.1 is source-only: it builds on 3.11, then fails on import there
    warning = next(ln for ln in proc.stderr.splitlines() if "sqlalchemy==1.2.1" in ln)
    assert warning.startswith("labship: warning: ") and "published only as source" in warning
    for noise in ("after parsing", "unsatisfiable", "cannot be satisfied together", "pytz"):
        assert noise not in proc.stderr, noise
    assert not (root / "pylock.toml").exists()


def test_yanked_missing_and_wildcard_pins(make_project: MakeProject) -> None:
    root = make_project(requirements="wheel==0.46.1\nsix==9.9.9\npandas==0.22.*\n")
    _on_python_3_11(root)
    lines = _report(labship("lock", cwd=root), 3)
    assert "yanked by its maintainers (" in lines["wheel==0.46.1"]
    assert "(nearest: 0.46.2)" in lines["wheel==0.46.1"]
    assert "no such release on the index; the newest is 1." in lines["six==9.9.9"]
    assert "no wheel for Python 3.11" in lines["pandas==0.22.*"]


def test_a_yanked_pin_uv_would_lock_is_refused(make_project: MakeProject) -> None:
    """uv locks an exactly pinned yanked release, with a warning labship must not lose."""
    root = make_project(requirements="wheel==0.46.1\n")
    err = _assert_error(labship("lock", cwd=root), 76)
    assert "wheel==0.46.1: yanked by its maintainers (" in err
    assert "(nearest: 0.46.2)" in err
    assert not (root / "pylock.toml").exists()


def test_a_pyenv_python_no_shim_selects_can_lock(make_project: MakeProject) -> None:
    """pyenv's versions count as installed: uv alone stops at the shim of one that no
    pyenv setting selects; labship hands uv the interpreter itself."""
    from labship.tools.uv import find_python, uv

    def shim_only(version: str) -> bool:
        found = find_python(version)
        uv_finds = uv(["python", "find", "--system", version], check=False).returncode == 0
        return found is not None and "/versions/" in found and not uv_finds

    version = next((v for v in ("3.12", "3.10", "3.13", "3.9") if shim_only(v)), None)
    if version is None:
        pytest.skip("no pyenv version here that uv cannot find by itself")
    root = make_project(dev_packages=())
    config = root / "labship.toml"
    config.write_text(re.sub(r'(?m)^python = ".*"$', f'python = "{version}"', config.read_text()))
    _lock_ok(root)
    assert _load(root / "pylock.toml")["tool"]["labship"]["python"] == version
