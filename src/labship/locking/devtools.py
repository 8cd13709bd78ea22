"""Development-only tools a spec lists beside production packages: locked in the dev set.

The classic ``environment.yml`` puts JupyterLab and friends next to pandas. labship moves
the ones below to ``pylock.dev.toml`` only; the spec file is left as it is. The list is
kept conservative: a tool is on it only if no production job imports it or runs it.

* On it: notebook front-ends and servers (``jupyterlab``, ``notebook``, ``nbclassic``,
  the ``jupyter`` metapackage), their extensions and configurators, and ``nbdime``
  (notebook diffs for git).
* ``ipykernel`` too, unless the spec also lists a notebook *executor* (``papermill``,
  ``nbconvert``, ``nbclient``, ``ploomber``, ``testbook``): a job that runs notebooks
  needs a kernel.
* Not on it: ``ipywidgets`` and ``ipython`` (code imports them: ``tqdm.notebook``,
  ``IPython.display``), ``nbconvert`` and ``jupytext`` (jobs render and convert notebooks),
  ``jupyter-server`` (voila and kernel gateways serve from it), test and lint tools (a
  job may run them).

``[lab] keep_in_prod = ["ipykernel"]`` in labship.toml keeps a listed tool in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

DEV_ONLY = frozenset(
    {
        # front-ends and their servers
        "jupyterlab",
        "notebook",
        "nbclassic",
        "jupyter",
        # their extensions and configurators
        "jupyter-contrib-nbextensions",
        "jupyter-nbextensions-configurator",
        "jupyterlab-git",
        "jupyterlab-lsp",
        "jupyterlab-code-formatter",
        "jupyterlab-vim",
        "jupyterlab-execute-time",
        "jupyterlab-spellchecker",
        "jupyter-resource-usage",
        # notebook diff and merge for git
        "nbdime",
    }
)
KERNEL = "ipykernel"
EXECUTORS = frozenset({"papermill", "nbconvert", "nbclient", "ploomber", "testbook"})


@dataclass(frozen=True)
class Split:
    prod: tuple[str, ...]  # requirements locked in both sets
    moved: tuple[str, ...]  # requirements locked in the dev set only
    moved_names: tuple[str, ...]  # their names, as the spec writes them


def split(requirements: tuple[str, ...], keep_in_prod: tuple[str, ...]) -> Split:
    """Separate the development-only tools of ``requirements`` from the rest."""
    names = {canonicalize_name(Requirement(r).name) for r in requirements}
    dev_only = set(DEV_ONLY)
    if names.isdisjoint(EXECUTORS):
        dev_only.add(KERNEL)
    dev_only -= {canonicalize_name(name) for name in keep_in_prod}
    prod: list[str] = []
    moved: list[str] = []
    for requirement in requirements:
        name = canonicalize_name(Requirement(requirement).name)
        (moved if name in dev_only else prod).append(requirement)
    moved_names = tuple(dict.fromkeys(Requirement(r).name for r in moved))
    return Split(tuple(prod), tuple(moved), moved_names)
