"""Where labship keeps machine-local state: one cache root, read from the environment."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``LABSHIP_STORE``, else ``$XDG_CACHE_HOME/labship``, else ``~/.cache/labship``."""
    explicit = os.environ.get("LABSHIP_STORE")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "labship"
