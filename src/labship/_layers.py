"""labship's layers, top to bottom: the one declaration of which part may import which.

A module imports only from its own layer or the layers below it, counting imports inside
functions, ``TYPE_CHECKING`` imports and lazy registry strings (``"labship.x.y:name"``);
and no two parts import each other, directly or round a loop. ``tests/test_architecture.py``
reads this and checks every module; ``docs/architecture.md`` shows it. Every top-level
module and package of labship is in exactly one layer.
"""

from __future__ import annotations

LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__", "cli"),  # parse, call the API, print, map errors to exit codes
    ("api",),  # every verb, callable from Python
    ("diagnosis",),  # labship doctor: what this machine lacks, asked of the layers below
    ("actions",),  # change the world: push to a registry, install crontab entries
    ("targets",),  # write files other systems run (compose, DAGs, manifests, cron wrappers)
    ("serving",),  # labship serve: the model server, run by a runtime
    ("runtimes",),  # local, docker: the only way anything runs
    ("images",),  # the one image engine: context, Dockerfile, tags, base probe, BuildKit
    ("store", "envcheck"),  # environments by lock content; the import check
    ("locking",),  # labship lock: resolving PyPI via uv
    ("spec",),  # grammars: conda match-spec, environment.yml, requirements.txt
    ("project", "profiles", "state", "runlog", "pushes", "jsonlines"),  # settings; .labship/
    ("tools",),  # one wrapper per external program (uv, docker, git, crontab, http, ...)
    (
        "labship",  # the package itself: __version__ and the lazily imported public names
        "errors",
        "console",
        "masking",
        "atomicfile",
        "inputs",  # every file read: regular files only, parse depth bounded
        "generated",
        "templates",
        "dirs",
        "_layers",
    ),
)


def rank(part: str) -> int:
    """The layer's index (0 is the top); KeyError for a part no layer names."""
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise KeyError(part)
