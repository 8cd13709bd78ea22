"""The CA bundle handed to a build as a BuildKit secret (mounted for one RUN, never a
layer), so installs work behind a TLS-intercepting proxy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import ConfigError

if TYPE_CHECKING:
    from labship.project import Project

DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_ENV_VARS = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")


def ca_bundle(project: Project | None) -> Path | None:
    """The CA bundle handed to the build as a secret: labship.toml, the usual variables,
    then the system bundle. Never a layer: BuildKit mounts secrets only for one RUN.
    ``None``: no project (a serving image), so no labship.toml."""
    configured = project.settings.ca_bundle if project is not None else None
    if project is not None and configured:
        path = (project.root / configured).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"{project.config_path}: [docker] ca_bundle {configured!r} does not exist",
                hint="point it at a PEM bundle, or remove the key",
            )
        return path
    for var in CA_ENV_VARS:
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return DEFAULT_CA_BUNDLE if DEFAULT_CA_BUNDLE.is_file() else None
