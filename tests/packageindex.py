"""A local package index, as pipx's tests have one: wheels in a folder of the tests' own
cache, with a PEP 503 ``simple/`` tree beside them, so a test can lock and install
offline (``--index-url file://…`` in a requirements file) whatever uv has cached.

Two kinds of wheel: a few small ones from PyPI (downloaded once, by pip), and wheels
made here for what PyPI cannot promise on every machine, e.g. a package that installs
everywhere and fails to import everywhere because its system library is missing.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from helpers import built_once, cache_root

DOWNLOADED = ("six==1.16.0", "iniconfig==2.0.0")  # what make_project's projects use
ABSENT_LIBRARY = "liblabship-fixture-absent.so.1"  # no machine has it


@dataclass(frozen=True)
class Made:
    """A pure-Python wheel written here: its files as text."""

    name: str
    version: str
    files: dict[str, str]


MADE = (
    # Loads its C library at import, as a thin binding does: the dynamic loader's own
    # "cannot open shared object file", on any machine.
    Made(
        "labship-fixture-nativelib",
        "1.0",
        {
            "labship_fixture_nativelib/__init__.py": (
                f"import ctypes\n_lib = ctypes.CDLL({ABSENT_LIBRARY!r})\n"
            )
        },
    ),
)


@dataclass(frozen=True)
class PackageIndex:
    root: Path

    @property
    def url(self) -> str:
        """The ``--index-url`` (PEP 503, ``file://``)."""
        return (self.root / "simple").as_uri()

    @property
    def wheels(self) -> Path:
        """The folder of wheels (a ``--find-links`` source)."""
        return self.root / "wheels"

    def requirements(self, text: str) -> str:
        """A requirements.txt that installs ``text``'s pins from this index alone."""
        return f"--index-url {self.url}\n{text}"

    def beside_pypi(self, text: str) -> str:
        """A requirements.txt whose pins come from this index first, else from PyPI."""
        return f"--extra-index-url {self.url}\n{text}"


def package_index() -> PackageIndex:
    """The index in the tests' cache, made on first use (keyed by what it holds)."""
    source = Path(__file__).read_bytes()
    key = hashlib.sha256(source).hexdigest()[:12]
    return PackageIndex(built_once(cache_root() / f"package-index-{key}", _build))


def _build(root: Path) -> None:
    wheels = root / "wheels"
    wheels.mkdir()
    argv = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    argv += ["--only-binary=:all:", "--dest", str(wheels), *DOWNLOADED]
    subprocess.run(argv, check=True)
    for made in MADE:
        write_wheel(made, wheels)
    _simple(root / "simple", wheels)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _simple(simple: Path, wheels: Path) -> None:
    """PEP 503: one page listing the projects, one page per project listing its files."""
    projects: dict[str, list[Path]] = {}
    for wheel in sorted(wheels.glob("*.whl")):
        projects.setdefault(_normal(wheel.name.split("-")[0]), []).append(wheel)
    simple.mkdir()
    links = "".join(f'<a href="{p}/">{p}</a>\n' for p in sorted(projects))
    (simple / "index.html").write_text(f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n")
    for project, files in projects.items():
        (simple / project).mkdir()
        rows = "".join(
            f'<a href="../../wheels/{html.escape(f.name)}#sha256='
            f'{hashlib.sha256(f.read_bytes()).hexdigest()}">{html.escape(f.name)}</a>\n'
            for f in files
        )
        page = f"<!DOCTYPE html>\n<html><body>\n{rows}</body></html>\n"
        (simple / project / "index.html").write_text(page)


def write_wheel(made: Made, folder: Path) -> Path:
    """A valid wheel (METADATA, WHEEL, RECORD with hashes), the same bytes every time."""
    dist = re.sub(r"[-_.]+", "_", made.name)
    info = f"{dist}-{made.version}.dist-info"
    files = dict(made.files)
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {made.name}\nVersion: {made.version}\n"
        "Summary: a package labship's tests make\n"
    )
    files[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: labship-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = folder / f"{dist}-{made.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as whl:
        for name, text in files.items():
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            whl.writestr(entry, text, zipfile.ZIP_DEFLATED)
    return path
