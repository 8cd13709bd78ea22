"""Environment spec reading: conda match-spec translation, pip lines, errors with file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from labship.errors import SpecError
from labship.spec import Spec, read_spec, translate_matchspec

DATA = Path(__file__).parent.parent / "data" / "spec"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# --- translate_matchspec ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("conda", "pep508"),
    [
        ("pandas", "pandas"),
        ("pandas=1.5", "pandas==1.5.*"),
        ("pandas=1", "pandas==1.*"),
        ("pandas=1.5.3", "pandas==1.5.3"),  # decision: 3+ components pin exactly
        ("pandas=1.0rc1", "pandas==1.0rc1"),  # not numeric: '.*' is illegal there
        ("pandas=1.5.*", "pandas==1.5.*"),
        ("pandas==1.5.3", "pandas==1.5.3"),
        ("pandas 1.5.3", "pandas==1.5.3"),
        ("numpy>=1.20,<2", "numpy>=1.20,<2"),
        ("numpy >=1.20,<2", "numpy>=1.20,<2"),
        ("numpy >=1.20, <2", "numpy>=1.20,<2"),
        ("numpy >= 1.20 , < 2", "numpy>=1.20,<2"),
        ("numpy!=1.21", "numpy!=1.21"),
        ("numpy !=1.21*", "numpy!=1.21.*"),
        ("numpy~=1.20", "numpy~=1.20"),
        ("numpy>=1.20*", "numpy>=1.20"),
        ("numpy 1.2*", "numpy==1.2.*"),
        ("numpy 1.2.*", "numpy==1.2.*"),
        ("numpy=1.2*", "numpy==1.2.*"),
        ("numpy *", "numpy"),
        ("numpy=*", "numpy"),
        ("pkg 1.0 py311_0", "pkg==1.0"),
        ("pkg 1.0=py311_0", "pkg==1.0"),
        ("pkg=1.0=py311_0", "pkg==1.0"),  # as in conda: a build makes '=' exact
        ("pkg >=1.0,<2 py311_0", "pkg>=1.0,<2"),
        ("conda-forge::pandas=1.5", "pandas==1.5.*"),
        ("conda-forge/linux-64::pandas", "pandas"),
        ("pkg[version='>=1.0']", "pkg>=1.0"),
        ('pkg[version=">=1.0,<2", build=py_0]', "pkg>=1.0,<2"),
        ("pkg[build=py311_0]", "pkg"),
        ("pkg[version=1.2]", "pkg==1.2"),
        ("numpy 1.19*|1.19.*|=1.19", "numpy==1.19.*"),  # one alternative after translation
        ("numpy 1.19|*", "numpy"),
        ("numpy (>=1.19,<2)", "numpy>=1.19,<2"),
        ("pytorch=2.1", "torch==2.1.*"),
        ("py-xgboost=1.7", "xgboost==1.7.*"),
        ("matplotlib-base>=3.7", "matplotlib>=3.7"),
        ("pytables", "tables"),
        ("py-lightgbm", "lightgbm"),
        ("opencv", "opencv-python-headless"),
        ("pyqt=5.15", "pyqt5==5.15.*"),
        ("pyqt=5.12.3=py38h7400c14_7", "pyqt5==5.12.3"),
        ("seaborn-base=0.11", "seaborn==0.11.*"),
        ("tensorflow-gpu=2.4", "tensorflow==2.4.*"),
        ("python-tzdata", "tzdata"),
        ("some-new-lib=1.0.0=pyhd8ed1ab_0", "some-new-lib==1.0.0"),  # unknown, built for Python
        ("msgpack-python", "msgpack"),
        ("tensorflow-base", "tensorflow"),
        ("psycopg2", "psycopg2-binary"),
        ("python-graphviz", "graphviz"),
        ("scikit-learn=1.2", "scikit-learn==1.2.*"),
        ("python-dateutil", "python-dateutil"),
        ("pillow", "pillow"),
        ("pyyaml", "pyyaml"),
        ("beautifulsoup4", "beautifulsoup4"),
        ("certifi", "certifi"),
        ("setuptools", "setuptools"),
        ("wheel", "wheel"),
    ],
)
def test_translate_matchspec(conda: str, pep508: str) -> None:
    assert translate_matchspec(conda, where="env.yml:3") == pep508


@pytest.mark.parametrize(
    "conda",
    [
        "python",
        "python=3.11",
        "pip",
        "pip>=23",
        "cudatoolkit=11.8",
        "mkl",
        "unixodbc",
        "graphviz",  # the C tool; the binding is python-graphviz
        "r-base=4.3",
        "r-ggplot2",
        "_libgcc_mutex",
        "ld_impl_linux-64",
        "gcc_linux-64",
        "conda-forge::openssl",
        "tzdata",  # the time zone database; PyPI's tzdata is conda's python-tzdata
        "cmake",  # the tool; conda-forge's table holds no PyPI distribution for it
        "font-ttf-ubuntu=0.83=hab24e00_0",
        "python_abi=3.8=2_cp38",
        "gstreamer=1.18.5=h76c114f_0",
        "some-new-lib=1.0.0=h7f98852_0",  # unknown to the table, built for no Python
    ],
)
def test_translate_matchspec_not_a_requirement(conda: str) -> None:
    assert translate_matchspec(conda, where="env.yml:3") is None


@pytest.mark.parametrize(
    ("conda", "reason"),
    [
        ("numpy 1.19|1.20", "alternatives are not expressible in PEP 440"),
        ("numpy (1.19|1.20),<2", "alternatives are not expressible in PEP 440"),
        ("numpy 1.*.3", "wildcard inside version"),
        ("numpy >=", "without a version"),
        ("numpy 1.0 py311 extra", "expected 'version [build]'"),
        ("pkg[extra]", "malformed [key=value]"),
        ("pkg 1.0[version='2.0']", "version given both"),
        ("numpy#1.0", "unexpected"),
        ("openssl-python=1.1.1w_x", "not a valid PEP 508 requirement"),
        ("=1.0", "no package name"),
    ],
)
def test_translate_matchspec_errors_name_the_line(conda: str, reason: str) -> None:
    with pytest.raises(SpecError) as err:
        translate_matchspec(conda, where="docker/environment.yml:7")
    message = str(err.value)
    assert message.startswith("docker/environment.yml:7: ")
    assert reason in message
    assert err.value.hint  # says what to do


def test_alternatives_error_message() -> None:
    with pytest.raises(SpecError) as err:
        translate_matchspec("numpy 1.19|1.20", where="docker/environment.yml:7")
    assert str(err.value) == (
        "docker/environment.yml:7: cannot translate conda spec 'numpy 1.19|1.20' "
        "(alternatives are not expressible in PEP 440); pin one version"
    )


# --- environment.yml ----------------------------------------------------------------


def test_classic_template_round_trip() -> None:
    spec = read_spec(DATA / "classic-environment.yml")
    assert spec == Spec(
        path=DATA / "classic-environment.yml",
        python="3.11",
        python_spec="==3.11.*",
        requirements=(
            "pandas==1.5.3",
            "numpy>=1.23,<2",
            "scikit-learn==1.2.*",
            "matplotlib",
            "xgboost==1.7.*",
            "pyodbc",
            "jupyterlab",
            "mlflow-skinny==2.9.2",
            "requests>=2.28",
        ),
        index_url=None,
        extra_index_urls=(),
        find_links=(),
        variables={"RANDOM_SEED": "42"},
        skipped=("unixodbc",),
        name="project_env",
        channels=("conda-forge", "defaults"),
        native=("unixodbc",),
        system_packages=("unixodbc",),  # pyodbc loads libodbc at run time
    )
    assert len(spec.sha256()) == 64


def test_conda_part_comes_before_pip_part(tmp_path: Path) -> None:
    path = write(
        tmp_path / "environment.yml",
        """
        dependencies:
          - pip:
            - requests
          - numpy
          - pip:
            - rich
        """,
    )
    assert read_spec(path).requirements == ("numpy", "requests", "rich")


@pytest.mark.parametrize(
    ("python", "minor", "specifier"),
    [
        ("python=3.11", "3.11", "==3.11.*"),
        ("python==3.11.*", "3.11", "==3.11.*"),
        ("python>=3.11,<3.12", "3.11", ">=3.11,<3.12"),
        ("python 3.11.4", "3.11", "==3.11.4"),
        ("python=3.12.1", "3.12", "==3.12.1"),
        ("python>=3.10", None, ">=3.10"),
        ("python", None, None),
    ],
)
def test_python_version(tmp_path: Path, python: str, minor: str | None, specifier: str) -> None:
    path = write(tmp_path / "environment.yml", f"dependencies:\n  - {python}\n  - numpy\n")
    spec = read_spec(path)
    assert (spec.python, spec.python_spec) == (minor, specifier)
    assert spec.requirements == ("numpy",)


def test_no_python_and_no_dependencies(tmp_path: Path) -> None:
    spec = read_spec(write(tmp_path / "environment.yaml", "name: bare\n"))
    assert (spec.python, spec.python_spec, spec.requirements, spec.name) == (None, None, (), "bare")


def test_variables_are_strings_as_written(tmp_path: Path) -> None:
    path = write(
        tmp_path / "environment.yml",
        """
        dependencies: [numpy]
        variables:
          RANDOM_SEED: 42
          DEBUG: "true"
          DATA_DIR: /data/raw
        """,
    )
    assert read_spec(path).variables == {
        "RANDOM_SEED": "42",
        "DEBUG": "true",
        "DATA_DIR": "/data/raw",
    }


def test_skipped_conda_only_packages_are_reported_once_in_order(tmp_path: Path) -> None:
    path = write(
        tmp_path / "environment.yml",
        """
        dependencies:
          - cudatoolkit=11.8
          - numpy
          - r-base
          - pip
          - conda-forge::cudatoolkit
          - libgcc-ng
        """,
    )
    spec = read_spec(path)
    assert spec.skipped == ("cudatoolkit", "r-base", "libgcc-ng")
    assert spec.requirements == ("numpy",)  # pip itself is dropped silently, not skipped


def test_pip_sublist_with_include_index_and_url(tmp_path: Path) -> None:
    write(
        tmp_path / "docker" / "requirements-extra.txt",
        """
        # extra pins
        rich==13.7.0
        -r ../shared/base.txt
        """,
    )
    write(
        tmp_path / "shared" / "base.txt",
        "httpx>=0.27\n--extra-index-url https://extra.example/simple\n",
    )
    path = write(
        tmp_path / "docker" / "environment.yml",
        """
        dependencies:
          - python=3.11
          - pip:
            - --index-url https://pypi.example/simple
            - -r requirements-extra.txt
            - mypkg @ https://files.example/mypkg-1.0-py3-none-any.whl
            - "--find-links wheels"
            - requests==2.31.0
        """,
    )
    spec = read_spec(path)
    assert spec.requirements == (
        "rich==13.7.0",
        "httpx>=0.27",
        "mypkg @ https://files.example/mypkg-1.0-py3-none-any.whl",
        "requests==2.31.0",
    )
    assert spec.index_url == "https://pypi.example/simple"
    assert spec.extra_index_urls == ("https://extra.example/simple",)
    assert spec.find_links == (str((tmp_path / "docker" / "wheels").resolve()),)


def test_index_url_short_and_equals_forms(tmp_path: Path) -> None:
    path = write(
        tmp_path / "environment.yml",
        """
        dependencies:
          - pip:
            - -i https://a.example/simple
            - --extra-index-url=https://b.example/simple
            - -fhttps://c.example/wheels/
        """,
    )
    spec = read_spec(path)
    assert spec.index_url == "https://a.example/simple"
    assert spec.extra_index_urls == ("https://b.example/simple",)
    assert spec.find_links == ("https://c.example/wheels/",)


# --- requirements.txt ---------------------------------------------------------------


def test_requirements_txt(tmp_path: Path) -> None:
    write(tmp_path / "base.txt", "numpy<2\n")
    path = write(
        tmp_path / "requirements.txt",
        """
        # a comment
        --index-url https://pypi.example/simple
        -r base.txt

        pandas==2.2.2  # inline comment
        scikit-learn==1.4.2 \\
            --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000 \\
            --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111
        tomli>=2; python_version < "3.11"
        pkg @ https://files.example/pkg-1.0.tar.gz#sha256=abc
        requests[socks]>=2.31
        """,
    )
    spec = read_spec(path)
    assert spec.requirements == (
        "numpy<2",
        "pandas==2.2.2",
        "scikit-learn==1.4.2",
        'tomli>=2; python_version < "3.11"',
        "pkg @ https://files.example/pkg-1.0.tar.gz#sha256=abc",
        "requests[socks]>=2.31",
    )
    assert spec.index_url == "https://pypi.example/simple"
    assert (spec.python, spec.name, spec.channels, spec.variables, spec.skipped) == (
        None,
        None,
        (),
        {},
        (),
    )


# --- sha256 -------------------------------------------------------------------------


def test_sha256_hashes_meaning_not_bytes(tmp_path: Path) -> None:
    a = write(
        tmp_path / "a" / "environment.yml",
        """
        name: one
        dependencies:
          - python=3.11
          - numpy >=1.20, <2
          - pandas
          - pip:
            - Requests==2.31.0
        variables:
          SEED: "1"
        """,
    )
    b = write(
        tmp_path / "b" / "environment.yml",
        """
        # reordered and reformatted
        name: two
        channels: [conda-forge]
        dependencies:
          - pandas
          - python==3.11.*
          - numpy<2,>=1.20
          - pip:
              - requests == 2.31.0
        """,
    )
    assert read_spec(a).sha256() == read_spec(b).sha256()


@pytest.mark.parametrize(
    "change",
    [
        ("numpy", "numpy<2"),
        ("python=3.11", "python=3.12"),
        ("- requests", "- --index-url https://x.example/simple\n    - requests"),
        ("- requests", "- --extra-index-url https://x.example/simple\n    - requests"),
        ("- requests", "- --find-links wheels\n    - requests"),
    ],
)
def test_sha256_changes_with_meaning(tmp_path: Path, change: tuple[str, str]) -> None:
    text = "dependencies:\n  - python=3.11\n  - numpy\n  - pip:\n    - requests\n"
    before = read_spec(write(tmp_path / "a.yml", text)).sha256()
    after = read_spec(write(tmp_path / "b.yml", text.replace(*change))).sha256()
    assert before != after


def test_sha256_same_for_a_project_moved_elsewhere(tmp_path: Path) -> None:
    text = "dependencies:\n  - pip:\n    - -f wheels\n    - numpy\n"
    here = read_spec(write(tmp_path / "here" / "environment.yml", text))
    there = read_spec(write(tmp_path / "there" / "deeper" / "environment.yml", text))
    assert here.find_links != there.find_links
    assert here.sha256() == there.sha256()


# --- errors name file and line ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("dependencies:\n  - numpy\n  - [unclosed\n", 4, "malformed YAML"),
        ("dependencies:\n\tnumpy\n", 2, "malformed YAML"),
        ("dependencies: numpy\n", 1, "'dependencies' must be a list"),
        ("dependencies:\n", 1, "'dependencies' must be a list"),
        ("- numpy\n", 1, "top level must be a mapping"),
        ("name: a\nname: b\n", 2, "appears twice"),
        ("dependencies:\n  - numpy\n  - numpy 1.19|1.20\n", 3, "numpy 1.19|1.20"),
        ("dependencies:\n  - numpy\n  -\n", 3, "expected a dependency"),
        ("dependencies:\n  - [numpy]\n", 2, "expected a dependency"),
        ("dependencies:\n  - conda:\n    - numpy\n", 2, "unknown dependency section 'conda:'"),
        ("dependencies:\n  - pip: requests\n", 2, "'pip' must be a list"),
        ("dependencies:\n  - pip:\n    - numpy\n    - -e ./src\n", 4, "editable"),
        ("dependencies:\n  - pip:\n    - --editable=./src\n", 3, "editable"),
        ("dependencies:\n  - pip:\n    - -c constraints.txt\n", 3, "constraint"),
        ("dependencies:\n  - pip:\n    - --pre\n", 3, "'--pre' is not supported"),
        ("dependencies:\n  - pip:\n    - requests --no-deps\n", 3, "'--no-deps'"),
        ("dependencies:\n  - pip:\n    - ./local/pkg\n", 3, "not a valid PEP 508"),
        ("dependencies:\n  - pip:\n    - 'pkg @'\n", 3, "not a valid PEP 508"),
        ("dependencies:\n  - pip:\n    - --index-url\n", 3, "needs a value"),
        ("dependencies:\n  - pip:\n    - -r missing.txt\n", 3, "no such file"),
        ("dependencies:\n  - pip:\n    - -r https://x.example/r.txt\n", 3, "URL"),
        (
            "dependencies:\n  - pip:\n    - -i https://a.example\n    - -i https://b.example\n",
            4,
            "second --index-url",
        ),
        ("dependencies:\n  - python=3.11\n  - python=3.12\n", 3, "contradicts"),
        ("dependencies: []\nvariables: [A]\n", 2, "'variables' must be a mapping"),
        ("dependencies: []\nvariables:\n  A:\n", 3, "the value of variable 'A'"),
        ("dependencies: []\nvariables:\n  A: [1, 2]\n", 3, "the value of variable 'A'"),
    ],
)
def test_yml_errors_name_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path / "environment.yml", text)
    with pytest.raises(SpecError) as err:
        read_spec(path)
    message = str(err.value)
    assert f"environment.yml:{line}: " in message
    assert fragment in message
    assert err.value.hint
    assert err.value.exit_code == 65


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("numpy\n-e .\n", 2, "editable"),
        ("numpy\n\nfoo bar baz\n", 3, "not a valid PEP 508"),
        ("numpy \\\n  ==1.0 \\\n  --trusted-host x\n", 1, "'--trusted-host'"),
        ("--no-binary :all:\n", 1, "'--no-binary' is not supported"),
        ('-r "unterminated\n', 1, "cannot parse"),
    ],
)
def test_requirements_txt_errors_name_file_and_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = write(tmp_path / "requirements.txt", text)
    with pytest.raises(SpecError) as err:
        read_spec(path)
    assert f"requirements.txt:{line}: " in str(err.value)
    assert fragment in str(err.value)


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "numpy\n-r b.txt\n")
    write(tmp_path / "b.txt", "pandas\n-r a.txt\n")
    with pytest.raises(SpecError) as err:
        read_spec(tmp_path / "a.txt")
    message = str(err.value)
    assert "b.txt:2: " in message
    assert "includes itself" in message
    assert "a.txt -> " in message


def test_error_inside_included_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path / "docker" / "more.txt", "ok\n\n-e .\n")
    path = write(
        tmp_path / "docker" / "environment.yml", "dependencies:\n  - pip:\n    - -r more.txt\n"
    )
    with pytest.raises(SpecError) as err:
        read_spec(path)
    assert "more.txt:3: " in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    for name in ("environment.yml", "requirements.txt"):
        with pytest.raises(SpecError) as err:
            read_spec(tmp_path / name)
        assert name in str(err.value)
        assert "no such file" in str(err.value)


def test_empty_yml(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"environment\.yml: the file is empty"):
        read_spec(write(tmp_path / "environment.yml", "# nothing\n"))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"caf\xe9\n")
    with pytest.raises(SpecError, match="not UTF-8"):
        read_spec(path)
