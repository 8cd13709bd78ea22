"""Conda package names versus PyPI names: data the project owns, no logic.

``spec.py`` translates an ``environment.yml`` into PEP 508 requirements for uv, so every
conda dependency must become a PyPI distribution name, or be left out.

The rule, applied to the conda name lower-cased and with any ``channel::`` stripped:

1. ``python`` sets the interpreter version; ``pip`` is dropped silently (uv does not
   need it). Neither is a requirement.
2. A name in :data:`CONDA_ONLY`, or starting with one of :data:`CONDA_ONLY_PREFIXES`,
   or ending with one of :data:`CONDA_ONLY_SUFFIXES`, is a conda-only non-Python
   package (C/C++ libraries, compilers, CUDA runtimes, R, conda tooling). It is left
   out and reported in ``Spec.skipped`` so the user sees a warning: in a Docker image
   such packages come from the OS (apt) instead, and most wheels bundle what they need.
3. A name in :data:`CONDA_TO_PYPI` is renamed.
4. Every other name is kept as is: most conda-forge Python packages use the PyPI name
   (scikit-learn, pillow, pyyaml, python-dateutil, beautifulsoup4, pymssql, certifi,
   cmake, tzdata, setuptools, wheel, ...).

Only names that really differ belong in the rename table; when in doubt, keep a
package (uv then reports an unknown name) rather than skip it (silently missing code).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: conda name -> PyPI distribution name, for names that differ.
CONDA_TO_PYPI: Mapping[str, str] = MappingProxyType(
    {
        "pytorch": "torch",
        "pytorch-cpu": "torch",
        "pytorch-gpu": "torch",
        "py-xgboost": "xgboost",
        "py-xgboost-cpu": "xgboost",
        "py-xgboost-gpu": "xgboost",
        "py-lightgbm": "lightgbm",
        "matplotlib-base": "matplotlib",
        "pytables": "tables",
        "opencv": "opencv-python",
        "py-opencv": "opencv-python",
        "pyqt": "PyQt5",
        "msgpack-python": "msgpack",
        "tensorflow-base": "tensorflow",
        "psycopg2": "psycopg2-binary",
        "python-graphviz": "graphviz",
        "python-kaleido": "kaleido",
        "python-tzdata": "tzdata",
        "python-flatbuffers": "flatbuffers",
        "python-xxhash": "xxhash",
        "python-duckdb": "duckdb",
    }
)

#: conda-only, non-Python packages: skipped with a warning.
CONDA_ONLY: frozenset[str] = frozenset(
    {
        # C runtime, compilers and build tools
        "libgcc",
        "libgcc-ng",
        "libgomp",
        "libstdcxx",
        "libstdcxx-ng",
        "libgfortran",
        "libgfortran-ng",
        "libgfortran5",
        "llvm-openmp",
        "intel-openmp",
        "gcc",
        "gxx",
        "gfortran",
        "clang",
        "compilers",
        "c-compiler",
        "cxx-compiler",
        "fortran-compiler",
        "make",
        "pkg-config",
        "libpython",
        "vc",
        "vc14_runtime",
        "vs2015_runtime",
        "ucrt",
        # BLAS / math
        "mkl",
        "mkl-include",
        "mkl-devel",
        "blas",
        "blas-devel",
        "libblas",
        "libcblas",
        "liblapack",
        "liblapacke",
        "openblas",
        "libopenblas",
        # CUDA
        "cudatoolkit",
        "cudnn",
        "cuda-toolkit",
        "cuda-version",
        "cuda-runtime",
        "cuda-nvcc",
        "nccl",
        "pytorch-cuda",
        "pytorch-mutex",
        "cpuonly",
        # system libraries
        "openssl",
        "ca-certificates",
        "unixodbc",
        "libiconv",
        "zlib",
        "libzlib",
        "libxml2",
        "libxslt",
        "hdf5",
        "libffi",
        "ncurses",
        "readline",
        "libedit",
        "sqlite",
        "libsqlite",
        "tk",
        "xz",
        "bzip2",
        "zstd",
        "lz4-c",
        "libuuid",
        "libnsl",
        "libxcrypt",
        "libcurl",
        "krb5",
        "libpq",
        "icu",
        "expat",
        "freetype",
        "libpng",
        "jpeg",
        "libjpeg-turbo",
        "libtiff",
        "graphviz",
        "libopencv",
        "libprotobuf",
        "libarrow",
        "arrow-cpp",
        # command-line tools and other languages
        "git",
        "curl",
        "wget",
        "nodejs",
        "yarn",
        "openjdk",
        "pandoc",
        "ffmpeg",
        "postgresql",
        # conda itself and conda-only plugins
        "conda",
        "mamba",
        "conda-build",
        "nb_conda",
        "nb_conda_kernels",
        "anaconda",
    }
)

#: Prefixes of conda-only names: R packages, virtual and mutex packages (``_``,
#: ``__glibc``), linker and sysroot packages.
CONDA_ONLY_PREFIXES: tuple[str, ...] = ("r-", "_", "ld_impl_", "sysroot_", "kernel-headers_")

#: Suffixes of conda-only names: platform-specific compiler activation packages
#: (``gcc_linux-64``, ``clang_osx-arm64``, ...).
CONDA_ONLY_SUFFIXES: tuple[str, ...] = (
    "_linux-64",
    "_linux-aarch64",
    "_linux-ppc64le",
    "_osx-64",
    "_osx-arm64",
    "_win-64",
)

__all__ = ["CONDA_ONLY", "CONDA_ONLY_PREFIXES", "CONDA_ONLY_SUFFIXES", "CONDA_TO_PYPI"]
