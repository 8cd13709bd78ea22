"""Conda package names versus PyPI names, decided by conda-forge's own table.

``environment.yml`` names conda packages; uv installs PyPI distributions. Which PyPI
distributions a conda package holds comes from conda-forge's conda -> PyPI table, the one
pixi uses (prefix-dev/parselmouth, BSD-3-Clause: ``conda-pypi.LICENSE`` beside this file),
shipped as ``conda-pypi.tsv.gz`` and refreshed by ``scripts/refresh-conda-names``. The
file is sorted; a lookup decompresses it once (about 3 ms) and bisects, no dict is built.

:func:`translate` applies the rules, to the conda name lower-cased, channel stripped:

1. The table says the package holds no Python distribution: it is **native** (C/C++
   libraries, compilers, fonts, X11, Qt, ``python_abi``, R, CUDA ...) and left out of the
   PyPI lock. A name the table does not know is native too when the export's build string
   has no ``py`` tag (``h7f98852_1004``: built for no Python).
2. The table renames it: ``matplotlib-base`` -> matplotlib, ``py-xgboost`` -> xgboost.
3. One conda package can bundle several PyPI distributions. Decision: keep the one the
   conda name is named for (the name without ``py-``/``python-`` and ``-base``/``-python``
   /``-cpu``/``-gpu``, or else the shortest one starting with it): ``pyqt`` -> pyqt5, whose
   own PyPI requirements bring pyqt5-sip; ``msgpack-python`` -> msgpack. The others
   (pyqtchart, pyqtwebengine) are separate PyPI projects the code rarely uses; they are
   reported as not kept, and a ``pip:`` line adds one back. With no such name all are kept.
4. :data:`OVERRIDES` replace the table's answer where its distribution does not install
   in a slim image (``psycopg2`` needs pg_config and a compiler; the GUI build of OpenCV
   needs libGL): a few names, each with its reason.
5. Unknown names are kept as they are: most conda-forge names are the PyPI names.

A native package that a kept distribution needs at run time (``unixodbc`` for pyodbc) is
a system package: :data:`RUNTIME_LIBRARIES` gives its Debian name, which images install
by apt and the local runtime names in its hint.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from types import MappingProxyType

TABLE = Path(__file__).with_name("conda-pypi.tsv.gz")

#: conda name -> the PyPI distribution kept instead of the table's, and why.
OVERRIDES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "psycopg2": ("psycopg2-binary", "psycopg2 builds from source (pg_config, a compiler)"),
        "py-opencv": ("opencv-python-headless", "the GUI build needs libGL, absent in images"),
        "libopencv": ("opencv-python-headless", "the GUI build needs libGL, absent in images"),
        "opencv": ("opencv-python-headless", "a metapackage for py-opencv, which see"),
    }
)

#: PyPI distribution -> (conda native package, Debian package) it loads at run time.
#: Wheels bundle most libraries (auditwheel); these few link to the system's.
RUNTIME_LIBRARIES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "pyodbc": ("unixodbc", "unixodbc"),
        "turbodbc": ("unixodbc", "unixodbc"),
        "pyaudio": ("portaudio", "libportaudio2"),
        "python-magic": ("libmagic", "libmagic1"),
        "pyzbar": ("zbar", "libzbar0"),
        "rtree": ("libspatialindex", "libspatialindex-c6"),
        "cairocffi": ("cairo", "libcairo2"),
        "soundfile": ("libsndfile", "libsndfile1"),
    }
)

# Conda names that are neither a requirement nor native: spec.py handles them.
_SPECIAL = frozenset({"python", "pip"})
_PREFIXES = ("py-", "python-")
_SUFFIXES = ("-base", "-python", "-cpu", "-gpu")


@dataclass(frozen=True)
class CondaName:
    """What one conda package becomes: the PyPI distributions kept (none: native)."""

    conda: str
    pypi: tuple[str, ...]
    bundled: tuple[str, ...] = ()  # PyPI distributions it also holds, not kept
    known: bool = True  # the table (or an override) knows the name

    @property
    def native(self) -> bool:
        return not self.pypi


@cache
def _lines() -> list[str]:
    text = zlib.decompress(TABLE.read_bytes(), wbits=31).decode("utf-8")
    return [line for line in text.split("\n") if line and not line.startswith("#")]


def lookup(conda: str) -> tuple[str, ...] | None:
    """The table's PyPI names for a conda package (empty: native); None if unknown."""
    lines, name = _lines(), conda.lower()
    at = bisect.bisect_left(lines, name)
    if at < len(lines):
        line = lines[at]
        if line == name:
            return (name,)
        if line.startswith(name + "\t"):
            rest = line[len(name) + 1 :]
            return tuple(rest.split(",")) if rest else ()
    return None


_PY_TAG = re.compile(r"py", re.IGNORECASE)  # build hashes are hex: 'py' is always a tag


def translate(conda: str, build: str | None = None) -> CondaName:
    """Apply the rules above to one conda name (and the export's build string, if any)."""
    name = conda.lower()
    if name in OVERRIDES:
        return CondaName(name, (OVERRIDES[name][0],))
    found = lookup(name)
    stem = _stem(name)
    if not found and stem != name and lookup(stem):
        # A metapackage (tensorflow-gpu, py-xgboost-cpu) or an unknown py- name: the
        # package it is named for. An export lists that one too; the lock dedupes.
        return replace(translate(stem, build), conda=name)
    if found is None:
        native = build is not None and not _PY_TAG.search(build)
        return CondaName(name, () if native else (name,), known=False)
    if len(found) <= 1:
        return CondaName(name, found)
    kept = _main(stem, found)
    return CondaName(name, kept, tuple(p for p in found if p not in kept))


def _stem(conda: str) -> str:
    """The name without conda-forge's ``py-``/``python-`` prefixes and variant suffixes."""
    stem = conda.replace("_", "-").replace(".", "-")
    stem = next((stem[len(p) :] for p in _PREFIXES if stem.startswith(p)), stem)
    return next((stem[: -len(s)] for s in _SUFFIXES if stem.endswith(s) and stem != s), stem)


def _main(stem: str, candidates: tuple[str, ...]) -> tuple[str, ...]:
    """The distribution a bundling conda package is named for; all when none is."""
    if stem in candidates:
        return (stem,)
    starting = sorted((c for c in candidates if c.startswith(stem)), key=lambda c: (len(c), c))
    return (starting[0],) if starting else candidates


def special(conda: str) -> bool:
    """``python`` and ``pip``: not packages for the lock, and not native either."""
    return conda.lower() in _SPECIAL


__all__ = ["OVERRIDES", "RUNTIME_LIBRARIES", "CondaName", "lookup", "special", "translate"]
