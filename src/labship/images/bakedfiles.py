"""What of an adopted project goes into its prod image, beyond code/ and notebooks/.

labship's own layout keeps code in ``code/``. A project it adopted keeps it where it
always did: ``train.py`` at the root, ``src/``, a package folder (cookiecutter-data-
science's ``project_name/``). Two rules say what else the image needs:

* **the code**: each word of a job's command that is a path in the project brings its
  top-level entry (``train.py``; ``project_name/dataset.py`` -> ``project_name/``; ``-m
  pkg.train`` -> ``pkg/`` or ``src/``), and so do ``src/`` and every top-level Python
  package, which the jobs import; never ``data/`` or ``models/`` (data is not baked);
* **the project's own package** (a ``directory`` entry in the lock): what building it
  needs, its ``pyproject.toml`` / ``setup.*``, README and LICENSE, and its code (top-level
  packages, ``src/``). Its backend builds it and uv installs it into the prod image's
  environment after the third-party set, editable at ``/app``, where the image bakes its
  code: code that finds the project through ``__file__`` (cookiecutter-data-science's
  ``config.py``: ``PROJ_ROOT``, ``DATA_DIR``) sees ``/app`` in the image as it sees the
  project folder locally, not site-packages. In the dev image, where the project is
  mounted, a ``.pth`` line points at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from labship.locking import local_packages

if TYPE_CHECKING:
    from labship.project import Project

# Already in the image (code/, notebooks/) or never in it (data, models, secrets, caches).
_SKIP = re.compile(
    r"^(code|notebooks|docker|data|models|\.env.*|\.git|\.venv|\.labship|__pycache__"
    r"|\.ipynb_checkpoints|deploy|pylock(\.dev)?\.toml|labship\.toml)$"
)
_BUILD_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in")
_DOC_FILES = re.compile(r"^(README|LICEN[CS]E|COPYING)(\.[A-Za-z]+)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Baked:
    """One top-level entry of the project: its name, and whether it is a folder."""

    name: str
    folder: bool

    @property
    def src(self) -> str:
        return f"{self.name}/" if self.folder else self.name


def without_local(text: str) -> str:
    """A lock's packages part without its folder packages: the environment layer of an
    image is the third-party set; the project's own package is installed after it."""
    head, *entries = text.split("\n[[packages]]\n")
    kept = [e for e in entries if not re.search(r"^directory\s*=", e, re.MULTILINE)]
    out = "\n[[packages]]\n".join([head, *kept])
    # the comment block the lock writer put above the folder entry goes with it
    return re.sub(r"\n# The project's own package:[^\n]*(\n#[^\n]*)*\s*$", "\n", out)


def code_entries(project: Project) -> list[Baked]:
    """Top-level entries the jobs' commands name, ``src/`` and the top-level packages."""
    root = project.root
    found: dict[str, Baked] = {}
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if _is_code_folder(entry):
            found[entry.name] = Baked(entry.name, True)
    for job in project.settings.jobs.values():
        words = list(job.argv[1:])
        for index, word in enumerate(words):
            if index > 0 and words[index - 1] == "-m":
                word = word.replace(".", "/")
                for base in ("", "src/"):
                    if (root / f"{base}{word}.py").is_file() or (root / base / word).is_dir():
                        word = f"{base}{word}"
                        break
            _add(root, word, found)
    return list(found.values())


def package_entries(project: Project) -> list[Baked]:
    """What building the project's own package needs (empty when the lock has none):
    its build and metadata files, and its code."""
    if not local_packages(project.lock_path):
        return []
    files = [
        Baked(entry.name, False)
        for entry in sorted(project.root.iterdir(), key=lambda p: p.name)
        if entry.is_file()
        and not entry.is_symlink()
        and (entry.name in _BUILD_FILES or _DOC_FILES.match(entry.name))
    ]
    folders = [b for b in code_entries(project) if b.folder]
    return files + folders


def import_root(project: Project) -> str:
    """Where the own package imports from, relative to the project: "src" or ".";
    "" without one."""
    if not local_packages(project.lock_path):
        return ""
    return "src" if (project.root / "src").is_dir() else "."


def _is_code_folder(entry: Path) -> bool:
    """``src/`` or a top-level Python package (not tests, data or a symlink)."""
    if not entry.is_dir() or entry.is_symlink() or _SKIP.match(entry.name):
        return False
    if entry.name in ("tests", "test"):
        return False
    return entry.name == "src" or (entry / "__init__.py").is_file()


def _add(root: Path, word: str, found: dict[str, Baked]) -> None:
    if word.startswith("-") or "=" in word or "$" in word or "\0" in word:
        return
    path = PurePosixPath(word)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return
    top = path.parts[0]
    if _SKIP.match(top) or top in found:
        return
    full = root / top
    try:
        if full.is_symlink() or not full.exists():
            return
        found[top] = Baked(top, full.is_dir())
    except OSError:
        return
