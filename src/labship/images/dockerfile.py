"""docker/Dockerfile: rendered from the project (templates/docker/), generated until the
user ejects it, then built as is. A header with a checksum marks it, so a hand edit is
caught and never overwritten silently."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import ConfigError, StaleLockError
from labship.generated import Header, Planned, with_header
from labship.images import container
from labship.images.base import default_base_image
from labship.images.context import STAGED_CHECK_DIR, STAGED_CONDA_DIR, UV_VERSION

if TYPE_CHECKING:
    from labship.console import Console
    from labship.project import Project

HEADER = Header(
    sources="labship.toml + pylock.toml + pylock.dev.toml",
    command="labship build",
    takeover="run 'labship eject' to take it over (labship then builds it as is)",
)
DOCKERFILE = Path("docker") / "Dockerfile"
_APT_NAME = re.compile(r"^[a-z0-9][a-z0-9+.\-]*(:[a-z0-9]+)?(=[A-Za-z0-9.+~:\-]+)?$")


def _apt_packages(project: Project) -> list[str]:
    """tini and [docker] system_packages, less what the conda lock already provides."""
    from labship.spec import system_packages

    packages = ["tini"]
    native = _conda_names(project)
    for name in project.settings.system_packages:
        if name in native:
            continue
        if not _APT_NAME.fullmatch(name):
            raise ConfigError(
                f"{project.config_path}: [docker] system_packages: {name!r} is not a "
                "Debian package name",
                hint='e.g. system_packages = ["unixodbc"]',
            )
        if name not in packages:
            packages.append(name)
    # native conda packages a kept distribution loads (unixodbc for pyodbc): names that
    # come from labship's own table, so no check is needed
    packages += [name for name in system_packages(project) if name not in packages]
    return packages


def _conda_names(project: Project) -> set[str]:
    if not project.settings.conda:
        return set()
    from labship.locking.conda import read

    try:
        found = read(project)
    except StaleLockError:  # a broken conda lock is lock's to report, not the Dockerfile's
        return set()
    return {r.name for r in found.records} if found is not None else set()


def _body(project: Project) -> str:
    import json

    from labship.images.bakedfiles import code_entries, import_root, package_entries
    from labship.store import JUPYTERLAB_OVERRIDES
    from labship.templates import environment

    own = import_root(project)
    env = environment().overlay(trim_blocks=False, lstrip_blocks=False)
    return env.get_template("docker/Dockerfile.j2").render(
        baked=code_entries(project),
        package=package_entries(project),
        package_path=f"{container.APP_DIR}/{own}".rstrip("/.") if own else "",
        lab_overrides=json.dumps(JUPYTERLAB_OVERRIDES, separators=(",", ":")),
        name=project.name,
        base_image=default_base_image(project),
        uv_version=UV_VERSION,
        apt_packages=_apt_packages(project),
        app_uid=container.APP_UID,
        app_dir=container.APP_DIR,
        venv=container.VENV,
        lab_command=container.LAB_COMMAND,
        lab_port=container.LAB_PORT,
        check_dir=STAGED_CHECK_DIR,
        conda=project.settings.conda,
        conda_dir=STAGED_CONDA_DIR,
        conda_prefix=container.CONDA_PREFIX,
    )


def planned(project: Project) -> Planned:
    """docker/Dockerfile as labship would write it; the user's once ejected ("keep")."""
    return Planned(
        path=project.root / DOCKERFILE,
        text=with_header(HEADER, _body(project)),
        user_owned="keep",
        takeover="labship eject",
    )


def render_dockerfile(project: Project) -> str:
    """The generated Dockerfile: header, checksum of the rest, then the rest."""
    return planned(project).text


def write_dockerfile(
    project: Project, *, force: bool = False, console: Console | None = None
) -> Path:
    """Write docker/Dockerfile unless the user owns it; a hand edit is never overwritten
    silently (ConflictError), an ejected file is used as is. ``force`` regenerates."""
    from labship import generated

    file = planned(project)
    before = generated.write_all([file], force=force)
    if console is not None and before.get(file.path) == "user" and not force:
        console.say(f"using your own {file.path.name} as is (labship does not touch it)")
    return file.path
