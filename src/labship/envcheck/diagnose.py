"""Why a package does not import, and what fixes it: the known patterns, else its own words.

Each pattern turns an exception's first line into a cause a user recognises and one fix:
a NumPy ABI break (pin numpy), a missing shared library (the Debian package providing it,
from a small built-in map), a package older than the Python it runs on (pin a newer one),
a module no installed package provides (add its package).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Where = Literal["local", "image"]

# Shared libraries wheels commonly expect from the system (Debian bookworm package names,
# as in the python:*-slim images): soname -> package.
SONAMES = {
    "libodbc.so.2": "unixodbc",
    "libodbcinst.so.2": "unixodbc",
    "libgomp.so.1": "libgomp1",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libXext.so.6": "libxext6",
    "libXrender.so.1": "libxrender1",
    "libX11.so.6": "libx11-6",
    "libxcb.so.1": "libxcb1",
    "libpq.so.5": "libpq5",
    "libmariadb.so.3": "libmariadb3",
    "libaio.so.1": "libaio1",
    "libsndfile.so.1": "libsndfile1",
    "libportaudio.so.2": "libportaudio2",
    "libasound.so.2": "libasound2",
    "libgfortran.so.5": "libgfortran5",
    "libopenblas.so.0": "libopenblas0",
    "libgeos_c.so.1": "libgeos-c1v5",
    "libspatialindex_c.so.6": "libspatialindex-c6",
    "libmagic.so.1": "libmagic1",
    "libzbar.so.0": "libzbar0",
    "libcairo.so.2": "libcairo2",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libxml2.so.2": "libxml2",
    "libxslt.so.1": "libxslt1.1",
    "libsasl2.so.2": "libsasl2-2",
    "libnuma.so.1": "libnuma1",
}
# Import names whose distribution is named otherwise (for "No module named ...").
_PROVIDERS = {
    "pkg_resources": "setuptools",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "cv2": "opencv-python-headless",
    "sklearn": "scikit-learn",
    "dateutil": "python-dateutil",
    "bs4": "beautifulsoup4",
}
# Standard modules recent Pythons removed: importing one means the package predates them.
_REMOVED = frozenset(
    {
        "distutils", "imp", "asynchat", "asyncore", "smtpd", "cgi", "cgitb", "crypt",
        "telnetlib", "nntplib", "pipes", "audioop", "aifc", "chunk", "imghdr", "mailcap",
        "msilib", "nis", "ossaudiodev", "sndhdr", "spwd", "sunau", "uu", "xdrlib", "lib2to3",
    }
)  # fmt: skip
_NUMPY_ABI = (
    "numpy.dtype size changed",
    "compiled using NumPy 1.x",
    "_ARRAY_API not found",
    "numpy.core.multiarray failed to import",
    "numpy.core._multiarray_umath failed to import",
    "compiled against ABI version",
    "compiled against API version",
)
_SONAME = re.compile(r"(lib[\w.+-]*?\.so(?:\.[0-9]+)*)\s*: cannot open shared object file")
_NO_ATTR = re.compile(r"module '([\w.]+)' has no attribute '(\w+)'")
_NO_NAME = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


@dataclass(frozen=True)
class Failure:
    """One module of a direct dependency that did not import, in the probe's words."""

    dist: str
    version: str
    module: str
    type: str
    message: str
    main: bool = True  # the distribution's main module; else an optional part


@dataclass(frozen=True)
class Context:
    """What the fix depends on: where it ran, the spec's file, the Python, the lock."""

    where: Where
    spec: str
    python: str
    numpy: str | None  # numpy's locked version, if numpy is in the set
    locked: Mapping[str, str] = field(default_factory=dict)  # the set: name -> version


def explain(failure: Failure, ctx: Context) -> str:
    """``cause; fix`` for one failure, in a line."""
    msg, dist = failure.message, failure.dist
    if any(text in msg for text in _NUMPY_ABI):
        return _numpy(dist, ctx)
    soname = _SONAME.search(msg)
    if soname:
        return _library(soname.group(1), ctx)
    if msg.startswith("module 'numpy' has no attribute"):
        return (
            f"it uses a NumPy API that numpy {ctx.numpy} removed ({msg}); "
            f"pin a newer {dist}, or an older numpy, in {ctx.spec}"
        )
    if _stdlib_gone(msg) or failure.type == "SyntaxError":
        return f"it does not support Python {ctx.python} ({msg}); pin a newer {dist} in {ctx.spec}"
    missing = _NO_MODULE.search(msg)
    if missing:
        return _missing(missing.group(1).split(".")[0], failure, ctx)
    shown = ": ".join(part for part in (failure.type, msg) if part)
    return f'{shown}; fix it, or exempt it: [check] skip_imports = ["{dist}"] in labship.toml'


def _missing(top: str, failure: Failure, ctx: Context) -> str:
    """'No module named X': advice checked against the lock before it is given."""
    provider = _PROVIDERS.get(top, top)
    key = "-".join(provider.replace("_", "-").replace(".", "-").lower().split("-"))
    locked = {"-".join(k.replace("_", "-").lower().split("-")): v for k, v in ctx.locked.items()}
    if key in locked:
        return (
            f"it imports {top!r} and {provider} {locked[key]} is in the lock, yet "
            f"{top!r} does not import here ({failure.message}); reinstall it, or "
            f'exempt {failure.dist}: [check] skip_imports = ["{failure.dist}"] in labship.toml'
        )
    named = _PROVIDERS.get(top, f"the package that provides {top!r}")
    return f"it needs {top!r}, which nothing in the set provides; add {named} to {ctx.spec}"


def _numpy(dist: str, ctx: Context) -> str:
    major = int(ctx.numpy.split(".")[0]) if ctx.numpy and ctx.numpy[0].isdigit() else None
    if major is not None and major >= 2:
        return (
            f"it was built for NumPy 1.x and the lock has numpy {ctx.numpy}; "
            f"pin numpy<2 in {ctx.spec} (or a {dist} release built for NumPy 2)"
        )
    return (
        f"it was built for another NumPy than the lock's numpy {ctx.numpy or '(none)'}; "
        f"pin numpy to the series {dist} was built for in {ctx.spec}"
    )


def _library(soname: str, ctx: Context) -> str:
    """The Debian package to list in [docker] system_packages, and locally its apt line."""
    from labship.tools.dpkg import install_hint

    package = SONAMES.get(soname)
    if package is None:
        return (
            f"the system library {soname} is missing; find its Debian package "
            f"(apt-file search {soname}), install it, and list it in [docker] system_packages"
        )
    listed = f'add "{package}" to [docker] system_packages in labship.toml'
    if ctx.where == "image":
        return f"the system library {soname} is missing from the image; {listed}"
    return f"the system library {soname} is missing; {install_hint([package])}, and {listed}"


def _stdlib_gone(message: str) -> bool:
    """An attribute, name or module of the standard library that this Python lacks."""
    for pattern, group in ((_NO_ATTR, 1), (_NO_NAME, 2)):
        found = pattern.search(message)
        if found and found.group(group).split(".")[0] in sys.stdlib_module_names:
            return True
    missing = _NO_MODULE.search(message)
    return bool(missing and missing.group(1).split(".")[0] in _REMOVED)
