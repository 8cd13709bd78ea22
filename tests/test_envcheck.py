"""The import check: which modules a distribution provides, what the probe reports from a
real interpreter, and the one line per failure (cause and fix). The real environments
(uv, PyPI, the store) are in ``test_envcheck_env.py``; images in tests/targets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labship import envcheck
from labship.envcheck import probe
from labship.envcheck.diagnose import Context, Failure, explain
from labship.locking import Lock
from labship.project import Project, load_project

LOCAL = Context("local", "docker/environment.yml", "3.11", "2.1.3")
IMAGE = Context("image", "requirements.txt", "3.11", "2.1.3")


def failure(message: str, kind: str = "ImportError", dist: str = "pkg") -> Failure:
    return Failure(dist, "1.0", dist.replace("-", "_"), kind, message)


# ---------------------------------------------------------------- which modules


def test_modules_come_from_record(tmp_path: Path) -> None:
    info = tmp_path / "demo-1.0.dist-info"
    info.mkdir()
    record = [
        "demo/__init__.py,sha256=x,1",
        "demo/sub/__init__.py,,",
        "demo/sub/core.cpython-311-x86_64-linux-gnu.so,,",
        "single.py,,",
        "fast.abi3.so,,",
        "_private.py,,",
        "google/protobuf/__init__.py,,",  # a namespace package: its first real package
        "google/_upb/_message.abi3.so,,",
        "tests/__init__.py,,",  # installed at the top level by mistake: not its code
        "demo-1.0.dist-info/RECORD,,",
        "demo.libs/libgomp.so.1,,",
        "../../bin/demo,,",
        '"with,comma.py",,',
        "demo-stubs/__init__.pyi,,",
        "distutils-precedence.pth,,",
    ]
    (info / "RECORD").write_text("\n".join(record) + "\n")
    assert probe.modules(str(info)) == ["demo", "fast", "google.protobuf", "single"]


def test_top_level_txt_without_record_and_private_only_when_nothing_public(
    tmp_path: Path,
) -> None:
    info = tmp_path / "old-1.0.dist-info"
    info.mkdir()
    (info / "top_level.txt").write_text("old\n_old_speedups\n")
    assert probe.modules(str(info)) == ["old"]
    (info / "top_level.txt").write_text("_cffi_backend\n")
    assert probe.modules(str(info)) == ["_cffi_backend"]


def test_names_are_the_specs_plus_lab_packages_minus_skip_imports(tmp_path: Path) -> None:
    (tmp_path / "labship.toml").write_text(
        '[project]\nname = "p"\nspec = "requirements.txt"\n'
        '[lab]\npackages = ["jupyterlab>=4", "Pandas"]\n'
        '[check]\nskip_imports = ["PyAutoGUI"]\n'
    )
    (tmp_path / "requirements.txt").write_text(
        "pandas==2.2.3\nscikit_learn[alldeps]>=1.5 ; python_version >= '3.9'\n"
        "pyautogui==0.9.54\nmy.pkg @ https://example.com/my.pkg-1.0-py3-none-any.whl\n"
    )
    project = load_project(tmp_path)
    assert envcheck.names(project, dev=False) == ["pandas", "scikit-learn", "my-pkg"]
    assert envcheck.names(project, dev=True) == ["pandas", "scikit-learn", "my-pkg", "jupyterlab"]


# ---------------------------------------------------------------- the probe, for real


def run_probe(names: list[str], code: str = "") -> subprocess.CompletedProcess[str]:
    """The probe in labship's own interpreter (a real one), ``code`` run first."""
    script = f"{code}\nimport runpy, sys\nsys.argv = ['probe', '-']\n"
    script += f"runpy.run_path({str(envcheck.PROBE)!r}, run_name='__main__')"
    return subprocess.run(
        [sys.executable, "-I", "-c", script],
        input=json.dumps({"names": names}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_probe_imports_installed_distributions_and_reports_each() -> None:
    proc = run_probe(["Jinja2", "PyYAML", "not-installed-here"])
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(ln.split(" ", 1)[1]) for ln in proc.stdout.splitlines()]
    started = {(e["dist"], e["module"]) for e in events if e["event"] == "start"}
    assert started == {("Jinja2", "jinja2"), ("PyYAML", "yaml")}
    assert {"dist": "not-installed-here", "event": "missing"} in events
    assert events[-1] == {"failed": 0, "event": "done"}


def test_a_failing_import_is_reported_whatever_the_package_prints() -> None:
    # jinja2 made to fail as a package would: its import raises after printing to stdout
    code = (
        "import builtins\n_real = builtins.__import__\n"
        "def fake(name, *a, **k):\n"
        "    if name == 'jinja2':\n"
        "        print('banner without a newline', end='')\n"
        "        raise ImportError('libodbc.so.2: cannot open shared object file: No such file')\n"
        "    return _real(name, *a, **k)\n"
        "builtins.__import__ = fake\n"
        "import importlib\nimportlib.import_module = lambda n: fake(n)\n"
    )
    proc = run_probe(["jinja2", "pyyaml"], code)
    assert proc.returncode == 1, proc.stderr
    found = envcheck.failures(proc.stdout, ended="?")
    assert found == [
        Failure(
            "jinja2",
            found[0].version,
            "jinja2",
            "ImportError",
            "libodbc.so.2: cannot open shared object file: No such file",
        )
    ]


def test_a_crash_names_the_module_being_imported() -> None:
    out = "\n".join(
        [
            f'{probe.MARKER} {{"event": "start", "dist": "a", "version": "1", "module": "a"}}',
            f'{probe.MARKER} {{"event": "start", "dist": "b", "version": "2", "module": "b"}}',
        ]
    )
    assert envcheck.failures(out, ended="the interpreter died (SIGSEGV) while importing it") == [
        Failure("b", "2", "b", "", "the interpreter died (SIGSEGV) while importing it")
    ]
    assert envcheck.failures(out + f'\n{probe.MARKER} {{"event": "done"}}', ended="x") == []


def test_build_log_lines_with_buildkit_prefixes_are_read() -> None:
    event = {"event": "failed", "dist": "pyodbc", "version": "5.2.0", "module": "pyodbc"}
    event |= {"type": "ImportError", "message": "libodbc.so.2: cannot open shared object file"}
    log = f"#14 [prod 3/6] RUN ... probe.py\n#14 0.731 {probe.MARKER} {json.dumps(event)}\n"
    found = envcheck.failures(log, ended="x")
    assert [f.dist for f in found] == ["pyodbc"]


# ---------------------------------------------------------------- cause and fix


def test_numpy_abi_break_says_pin_numpy_below_2() -> None:
    text = explain(
        failure(
            "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C "
            "header, got 88 from PyObject",
            "ValueError",
            "scikit-learn",
        ),
        LOCAL,
    )
    assert "built for NumPy 1.x" in text and "numpy 2.1.3" in text
    assert "pin numpy<2 in docker/environment.yml" in text
    older = Context("local", "requirements.txt", "3.11", "1.26.4")
    text = explain(failure("module compiled against ABI version 0x2000000", dist="x"), older)
    assert "numpy 1.26.4" in text and "pin numpy" in text


def test_missing_library_names_the_debian_package_for_each_runtime() -> None:
    message = "libodbc.so.2: cannot open shared object file: No such file or directory"
    local = explain(failure(message, dist="pyodbc"), LOCAL)
    assert "libodbc.so.2" in local and "sudo apt-get install unixodbc" in local
    assert 'add "unixodbc" to [docker] system_packages' in local
    image = explain(failure(message, dist="pyodbc"), IMAGE)
    assert 'add "unixodbc" to [docker] system_packages' in image and "apt-get" not in image
    other = explain(failure("libfoo.so.7: cannot open shared object file: x"), LOCAL)
    assert "apt-file search libfoo.so.7" in other


@pytest.mark.parametrize(
    "message",
    [
        "module 'collections' has no attribute 'MutableMapping'",
        "cannot import name 'Mapping' from 'collections' (/usr/lib/python3.11/collections/x.py)",
        "No module named 'distutils'",
    ],
)
def test_a_package_older_than_the_python_says_pin_a_newer_one(message: str) -> None:
    text = explain(failure(message, "AttributeError", "sqlalchemy"), LOCAL)
    assert "does not support Python 3.11" in text
    assert "pin a newer sqlalchemy in docker/environment.yml" in text


def test_missing_module_names_the_package_to_add() -> None:
    text = explain(failure("No module named 'pkg_resources'", "ModuleNotFoundError"), LOCAL)
    assert "add setuptools to docker/environment.yml" in text
    text = explain(failure("No module named 'torch'", "ModuleNotFoundError"), LOCAL)
    assert "add the package that provides 'torch'" in text


def test_anything_else_is_its_own_last_line_and_the_exemption() -> None:
    text = explain(failure("no display name and no $DISPLAY", "KeyError", "pyautogui"), LOCAL)
    assert text.startswith("KeyError: no display name and no $DISPLAY")
    assert '[check] skip_imports = ["pyautogui"] in labship.toml' in text


def test_the_error_is_one_line_of_what_then_one_per_package() -> None:
    found = [
        failure("numpy.dtype size changed", "ValueError", "scikit-learn"),
        failure("libodbc.so.2: cannot open shared object file", dist="pyodbc"),
    ]
    error = envcheck.error(
        found, what="the prod environment abc was not put in place", context=LOCAL
    )
    lines = str(error).splitlines()
    assert error.exit_code == 65
    assert (
        lines[0]
        == "the prod environment abc was not put in place: 2 direct dependencies do not import"
    )
    assert lines[1].startswith(
        "  scikit-learn 1.0 (import scikit_learn): it was built for NumPy 1.x"
    )
    assert lines[2].startswith("  pyodbc 1.0 (import pyodbc): the system library libodbc.so.2")


def test_an_import_that_hangs_is_a_failure_not_a_hung_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real venv holding a distribution whose import never returns."""
    from labship.errors import ImportCheckError
    from labship.tools.uv import uv_bin, uv_env

    env = tmp_path / "env"
    subprocess.run([uv_bin(), "venv", "-q", "--python", sys.executable, str(env)], env=uv_env())
    (site,) = env.glob("lib/python3.*/site-packages")
    (site / "hang.py").write_text("import time\ntime.sleep(600)\n")
    (site / "hang-1.0.dist-info").mkdir()
    (site / "hang-1.0.dist-info" / "RECORD").write_text("hang.py,,\n")
    (tmp_path / "labship.toml").write_text('[project]\nname = "p"\nspec = "requirements.txt"\n')
    (tmp_path / "requirements.txt").write_text("hang==1.0\n")
    project = load_project(tmp_path)
    lock = Lock(tmp_path, "3.11", tmp_path / "pylock.toml", tmp_path / "d", "a" * 64, "b" * 64, {})
    (tmp_path / "pylock.toml").write_text('lock-version = "1.0"\n')
    monkeypatch.setattr(envcheck, "TIMEOUT", 2.0)
    with pytest.raises(ImportCheckError) as info:
        envcheck.check_environment(project, lock, env, dev=False)
    assert str(info.value).splitlines()[1] == (
        "  hang 1.0 (import hang): did not finish importing within 2 s; fix it, or exempt it: "
        '[check] skip_imports = ["hang"] in labship.toml'
    )


# ---------------------------------------------------------------- no false positives


def dist_info(tmp_path: Path, name: str, record: list[str], top_level: str | None = None) -> str:
    info = tmp_path / f"{name}.dist-info"
    info.mkdir()
    (info / "RECORD").write_text("\n".join(record) + "\n")
    if top_level is not None:
        (info / "top_level.txt").write_text(top_level)
    return str(info)


def test_declared_names_first_never_tests_private_modules_or_subpackages(tmp_path: Path) -> None:
    # matplotlib 3.5 as conda exports ship it: mpl_toolkits holds a tests package
    record = [
        "matplotlib/__init__.py,,",
        "matplotlib/tests/__init__.py,,",
        "matplotlib/backends/qt_compat.py,,",
        "mpl_toolkits/tests/__init__.py,,",
        "mpl_toolkits/tests/test_mplot3d.py,,",
        "mpl_toolkits/mplot3d/__init__.py,,",
        "mpl_toolkits/axes_grid1/__init__.py,,",
        "pylab.py,,",
        "matplotlib/_c_internal_utils.cpython-38-x86_64-linux-gnu.so,,",
    ]
    declared = "matplotlib\nmpl_toolkits\npylab\nsrc\n"  # 'src': declared, never installed
    info = dist_info(tmp_path, "matplotlib-3.5.1", record, declared)
    assert probe.modules(info) == [
        "matplotlib",  # the main module comes first
        "mpl_toolkits.axes_grid1",
        "mpl_toolkits.mplot3d",
        "pylab",
    ]


def test_plugins_and_bundled_libraries_are_not_modules(tmp_path: Path) -> None:
    # PyQtChart: a portion of the PyQt5 namespace, with Qt plugins and libraries
    record = [
        "PyQt5/QtChart.abi3.so,,",
        "PyQt5/Qt5/lib/libQt5Charts.so.5,,",
        "PyQt5/Qt5/plugins/designer/libqtcharts.so,,",
        "PyQt5/bindings/QtChart/QtChart.toml,,",
        "PyQtChart-5.15.6.dist-info/RECORD,,",
    ]
    assert probe.modules(dist_info(tmp_path, "PyQtChart-5.15.6", record)) == ["PyQt5.QtChart"]


def test_the_main_module_is_the_one_named_like_the_distribution(tmp_path: Path) -> None:
    record = ["_yaml/__init__.py,,", "yaml/__init__.py,,"]
    assert probe.modules(dist_info(tmp_path, "PyYAML-6.0", record)) == ["yaml"]
    record = ["zzz/__init__.py,,", "aaa.py,,", "python_dateutil_extra/__init__.py,,"]
    found = probe.modules(dist_info(tmp_path, "python-dateutil-extra-1.0", record))
    assert found[0] == "python_dateutil_extra"


def fake_env(tmp_path: Path, files: dict[str, str], record: list[str]) -> Path:
    """A real venv holding one made-up distribution 'demo'."""
    from labship.tools.uv import uv_bin, uv_env

    env = tmp_path / "env"
    argv = [uv_bin(), "venv", "-q", "--python", sys.executable, str(env)]
    subprocess.run(argv, env=uv_env(), check=True)
    (site,) = env.glob("lib/python3.*/site-packages")
    for name, text in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    (site / "demo-1.0.dist-info").mkdir()
    (site / "demo-1.0.dist-info" / "RECORD").write_text("\n".join(record) + "\n")
    return env


def demo_project(tmp_path: Path) -> tuple[Project, Lock]:
    (tmp_path / "labship.toml").write_text('[project]\nname = "p"\nspec = "requirements.txt"\n')
    (tmp_path / "requirements.txt").write_text("demo==1.0\n")
    (tmp_path / "pylock.toml").write_text('lock-version = "1.0"\n')
    lock = Lock(tmp_path, "3.11", tmp_path / "pylock.toml", tmp_path / "d", "a" * 64, "b" * 64, {})
    return load_project(tmp_path), lock


def test_an_optional_part_missing_its_system_library_warns_and_names_it(tmp_path: Path) -> None:
    import io

    from labship.console import Console

    gone = "libGL.so.1: cannot open shared object file: No such file or directory"
    env = fake_env(
        tmp_path,
        {"demo/__init__.py": "", "demo_gui.py": f"raise ImportError({gone!r})\n"},
        ["demo/__init__.py,,", "demo_gui.py,,"],
    )
    project, lock = demo_project(tmp_path)
    stream = io.StringIO()
    console = Console(stream=stream)
    envcheck.check_environment(project, lock, env, dev=False, console=console)
    said = stream.getvalue()
    assert "demo 1.0: its optional part demo_gui does not import" in said
    assert "libGL.so.1" in said and "libgl1" in said
    assert len(said.splitlines()) == 1


def test_only_the_main_module_refuses(tmp_path: Path) -> None:
    from labship.errors import ImportCheckError

    env = fake_env(
        tmp_path,
        {"demo/__init__.py": "raise ImportError('broken on purpose')\n", "demo_gui.py": ""},
        ["demo/__init__.py,,", "demo_gui.py,,"],
    )
    project, lock = demo_project(tmp_path)
    with pytest.raises(ImportCheckError) as info:
        envcheck.check_environment(project, lock, env, dev=False)
    assert "demo 1.0 (import demo): ImportError: broken on purpose" in str(info.value)


def test_missing_module_advice_is_checked_against_the_lock() -> None:
    locked = Context("local", "environment.yml", "3.8", None, {"PyQt5": "5.15.10"})
    text = explain(failure("No module named 'PyQt5'", "ModuleNotFoundError", "pyqtchart"), locked)
    assert "nothing in the set provides" not in text
    assert "PyQt5 5.15.10 is in the lock" in text and 'skip_imports = ["pyqtchart"]' in text
