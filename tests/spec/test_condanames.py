"""conda -> PyPI names from conda-forge's table: native packages, renames, bundles."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from labship.spec import condanames

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "refresh-conda-names"


def test_the_table_ships_with_its_license_and_provenance() -> None:
    license_text = condanames.TABLE.with_name("conda-pypi.LICENSE").read_text(encoding="utf-8")
    assert "BSD 3-Clause" in license_text and "prefix.dev" in license_text
    text = zlib.decompress(condanames.TABLE.read_bytes(), wbits=31).decode("utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert "prefix-dev/parselmouth" in header[0]
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body == sorted(body) and len(body) > 30_000  # bisection needs the order


@pytest.mark.parametrize(
    ("conda", "pypi", "bundled"),
    [
        ("matplotlib-base", ("matplotlib",), ()),
        ("seaborn-base", ("seaborn",), ()),
        ("py-xgboost", ("xgboost",), ()),
        ("pytorch", ("torch",), ()),
        # pyqt bundles four PyPI projects: PyQt5 is kept, its PyPI requirements bring sip
        ("pyqt", ("pyqt5",), ("pyqt5-sip", "pyqtchart", "pyqtwebengine")),
        ("msgpack-python", ("msgpack",), ("msgpack-python",)),
        ("tensorflow-gpu", ("tensorflow",), ()),  # a metapackage: what it is named for
        ("py-lightgbm", ("lightgbm",), ()),  # unknown py- name: its stem is known
        ("psycopg2", ("psycopg2-binary",), ()),  # override: builds from source otherwise
        ("scikit-learn", ("scikit-learn",), ()),
    ],
)
def test_renames_and_bundles_follow_the_table(
    conda: str, pypi: tuple[str, ...], bundled: tuple[str, ...]
) -> None:
    found = condanames.translate(conda)
    assert (found.pypi, found.bundled, found.native) == (pypi, bundled, False)


@pytest.mark.parametrize(
    ("conda", "build"),
    [
        ("font-ttf-ubuntu", "hab24e00_0"),
        ("python_abi", "2_cp38"),
        ("qt", None),
        ("gstreamer", "h76c114f_0"),
        ("libgcc-ng", None),
        ("unixodbc", None),
        ("xorg-libxau", None),
        ("an-unknown-lib", "h7f98852_0"),  # not in the table, built for no Python
    ],
)
def test_native_packages(conda: str, build: str | None) -> None:
    assert condanames.translate(conda, build).native


def test_unknown_names_with_a_python_build_or_none_are_kept() -> None:
    assert condanames.translate("an-unknown-lib", "pyhd8ed1ab_0").pypi == ("an-unknown-lib",)
    assert condanames.translate("an-unknown-lib", "py38h1234abc_0").pypi == ("an-unknown-lib",)
    found = condanames.translate("an-unknown-lib")
    assert (found.pypi, found.known) == (("an-unknown-lib",), False)


def test_python_and_pip_are_special_not_native() -> None:
    assert condanames.special("python") and condanames.special("PIP")
    assert not condanames.special("numpy")


def test_the_refresh_script_writes_the_compact_sorted_form(tmp_path: Path) -> None:
    source = tmp_path / "mapping.json"
    table = {"zlib": None, "numpy": ["numpy"], "pyqt": ["pyqt5", "PyQt5_sip"], "a-b": ["A.B"]}
    source.write_text(json.dumps(table), encoding="utf-8")
    out = tmp_path / "table.tsv.gz"
    argv = [sys.executable, str(SCRIPT), str(source), "--commit", "abc", "--output", str(out)]
    subprocess.run(argv, check=True, capture_output=True)
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    assert lines[0].endswith("@ abc")
    body = [line for line in lines if not line.startswith("#")]
    assert body == ["a-b", "numpy", "pyqt\tpyqt5,pyqt5-sip", "zlib\t"]


def test_a_broken_source_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "mapping.json"
    source.write_text("[]", encoding="utf-8")
    argv = [sys.executable, str(SCRIPT), str(source), "--output", str(tmp_path / "t.gz")]
    proc = subprocess.run(argv, capture_output=True, text=True)
    assert proc.returncode == 1 and "not a conda -> PyPI table" in proc.stderr
    assert not (tmp_path / "t.gz").exists()
