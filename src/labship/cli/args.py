"""What every command reads from its parsed arguments."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labship.project import Project


def project_of(args: argparse.Namespace) -> Project:
    """The project named by ``-C DIR``, else the one here or above."""
    from labship.project import load_project

    directory = getattr(args, "directory", None)
    return load_project(Path(directory) if directory else None)
