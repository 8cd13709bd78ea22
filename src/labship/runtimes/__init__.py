"""Runtimes: ``local`` (uv virtual environments) and ``docker`` (BuildKit images)."""
