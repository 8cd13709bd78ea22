"""Compose files: the project as ``compose.yaml`` (the lab) and ``compose.prod.yaml`` (jobs).

They let someone without labship do what labship does::

    HOST_UID=$(id -u) HOST_GID=$(id -g) docker compose up      # JupyterLab
    docker compose -f compose.prod.yaml run --rm JOB           # one job; its exit code

Both are Compose-spec files (no obsolete ``version:`` key) that docker-compose 1.29 and
Compose v2 both read. Decisions:

- **Variables only by reference.** ``env_file: .env_dev`` / ``.env_prod``: no value is
  ever written into these files (they get committed). ``environment:`` adds only
  ``LABSHIP_PROFILE``, ``LABSHIP_JOB`` and ``LABSHIP_RUNTIME=compose``, as labship's
  runtimes do. Compose reads env files with its own parser; labship accepts only what
  1.29 and v2 read alike (labship.profiles), and ``ENV_FILE_DIFFERENCES`` lists what it
  refuses because 1.29 reads it differently.
- **Stable image names, not lock hashes.** ``image:`` is ``<image>:dev`` for the lab and
  ``<image>:<version>`` for jobs, both tags ``labship build`` sets (never the same tag
  for dev and prod). The files therefore do not change when the lock does, and compose
  runs exactly the image labship built.
- **The CA bundle (TLS-intercepting proxies).** ``labship build`` passes it as a BuildKit
  secret; docker-compose 1.29 has no build secrets (its schema refuses ``build.secrets``),
  and ``build.secrets`` for v2 alone would make 1.29 reject the whole file. So compose
  uses the image labship built, and ``build:`` (target dev/prod of docker/Dockerfile) is
  a fallback for machines that need no extra CA. The Dockerfile needs BuildKit: v2 uses
  it by itself, 1.29 needs ``COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1``.
- **The host user.** bash's ``UID`` is a read-only, unexported shell variable, so compose
  would not see it and ``UID=... docker compose`` fails; the files read ``HOST_UID`` /
  ``HOST_GID`` (default 1000), for ``user:`` and the dev build's ``UID``/``GID`` args.
- **Stopping.** A job's ``stop_timeout`` (labship.toml) is its ``stop_grace_period``,
  said only when it is not compose's own 10 s, as labship's runtimes give it.
- **MLflow** (``[services] mlflow = true``): a ``mlflow`` service from the dev image, as
  the host user, its store in ``./.labship/mlflow`` (git-ignored), published on
  127.0.0.1 only (``MLFLOW_PORT``, default ``[services] mlflow_port`` or 5000). The lab
  reaches it as ``http://mlflow:5000``, set inside the container only when the profile
  sets no ``MLFLOW_TRACKING_URI`` of its own (compose's ``environment:`` would beat
  ``env_file:``).
- **Base image.** ``LABSHIP_BASE_IMAGE`` overrides the Dockerfile's base as it does for
  labship (``build.args.BASE_IMAGE``).
- **Generated header** (``labship.generated``). ``labship export compose`` rewrites an
  intact file, and refuses (ConflictError, exit 73) to overwrite a hand-edited one or one
  labship did not write, unless ``force``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from labship.generated import Header, Planned, with_header
from labship.project.settings import DEFAULT_MLFLOW_PORT, DEFAULT_STOP_TIMEOUT
from labship.targets.base import Context, distinct_names

if TYPE_CHECKING:
    import jinja2

    from labship.project import Project

DEV_FILE = "compose.yaml"
PROD_FILE = "compose.prod.yaml"
HEADER = Header(
    sources="labship.toml",
    command="labship export compose",
    takeover="run 'labship eject compose' to take it over (labship then leaves it alone)",
)
_SERVICE_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]+")

# How docker-compose 1.29 reads an env file where it differs from Compose v2. 1.29 reads
# env_file with python-dotenv 0.21 (interpolating): only ${NAME} and ${NAME:-default} are
# expanded, from the file's earlier keys and then the caller's shell (Compose v2 asks the
# shell first); double quotes decode \\ \' \" \a \b \f \n \r \t \v; single quotes decode \\
# and \' and are expanded too. labship refuses every row (ProfileError, exit 65:
# labship.profiles accepts only the portable subset), so a profile labship runs gives the
# same values through env_file. Each row: (line, labship's value, docker-compose 1.29's
# value), with A=va and E= defined earlier and U undefined. Verified against
# /usr/bin/docker-compose 1.29.2 by tests/targets/test_compose.py. Not in the table, also
# refused by labship: ${U:-d} (1.29 takes the caller's shell's U), a line KEY without =
# (compose reads the shell).
ENV_FILE_DIFFERENCES: tuple[tuple[str, str, str], ...] = (
    ("B=$A", "ProfileError", "$A"),
    ("B=cost$$5", "ProfileError", "cost$$5"),
    ('B="x\\$y"', "ProfileError", "x\\$y"),
    ('B="a\\qb"', "ProfileError", "a\\qb"),
    ('B="\\a"', "ProfileError", "\a"),
    ("B='a\\\\b'", "ProfileError", "a\\b"),
    ("B='it\\'s'", "ProfileError", "it's"),
    ("B='${A}'", "ProfileError", "va"),
    ("B=${U-d}", "ProfileError", ""),
    ("B=${E:-d}", "ProfileError", ""),
)
# Safe everywhere, and all labship accepts: unquoted values (a space before # starts a
# comment), "double quotes" with \n \t \r \\ \", 'single quotes' without \\, a final \
# or ${; no $ outside single quotes. See labship.profiles.


@dataclass(frozen=True)
class _Service:
    service: str
    name: str
    argv: tuple[str, ...]
    stop_grace: int | None  # seconds; None: compose's default, which is labship's


def _yaml(value: str) -> str:
    """A YAML double-quoted scalar; ``$`` doubled so compose does not interpolate it.
    Characters YAML reads as line breaks (U+0085, U+2028) or refuses (DEL, C1 controls)
    are escaped too, so a job command with one reaches compose unchanged."""
    quoted = json.dumps(value.replace("$", "$$"), ensure_ascii=False)
    return "".join(c if c.isprintable() else _yaml_escape(c) for c in quoted)


def _yaml_escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _yaml_inner(value: str) -> str:
    return _yaml(value)[1:-1]


def _yaml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_yaml(v) for v in values) + "]"


def _environment() -> jinja2.Environment:
    from labship.templates import environment

    env = environment().overlay(trim_blocks=False, lstrip_blocks=False)
    env.filters.update(yaml=_yaml, yamlinner=_yaml_inner, yamllist=_yaml_list)
    return env


def _services(project: Project) -> list[_Service]:
    def service_of(name: str) -> str:
        return _SERVICE_UNSAFE.sub("-", name).strip("-") or "job"

    named = distinct_names(
        project,
        project.settings.jobs.values(),
        service_of,
        "compose service",
        "letters, digits, '.', '_', '-'",
    )
    return [
        _Service(
            service,
            job.name,
            job.argv,
            job.stop_timeout if job.stop_timeout != DEFAULT_STOP_TIMEOUT else None,
        )
        for service, job in named
    ]


class ComposeTarget:
    """compose.yaml (the lab) and compose.prod.yaml (the jobs): run without labship."""

    name = "compose"

    def plan(self, context: Context) -> list[Planned]:
        root = context.project.root
        return [
            Planned(root / name, with_header(HEADER, text), "refuse", "labship eject compose")
            for name, text in render_compose(context.project).items()
        ]


def render_compose(project: Project) -> dict[str, str]:
    """File name -> body (without the header). The files name stable tags, so the lock
    does not change them."""
    from labship.images import container
    from labship.images.base import default_base_image
    from labship.images.tags import stable_tags

    dev_image, prod_image = stable_tags(project)
    common = {
        "name": project.name,
        "port": project.settings.lab_port,
        "base_image": default_base_image(project),
        "dev_image": dev_image,
        "prod_image": prod_image,
        "container": container,
    }
    env = _environment()
    lab_command: list[str] | tuple[str, ...] = container.LAB_COMMAND
    mlflow_command: list[str] = []
    if project.settings.mlflow:
        from labship.runtimes import tracking

        lab_command = tracking.keep_profile_uri(lab_command, tracking.container_uri())
        mlflow_command = tracking.container_command()
    dev = env.get_template(f"compose/{DEV_FILE}.j2").render(
        lab_command=lab_command,
        mlflow_command=mlflow_command,
        mlflow_port=project.settings.mlflow_port or DEFAULT_MLFLOW_PORT,
        **common,
    )
    prod = env.get_template(f"compose/{PROD_FILE}.j2").render(jobs=_services(project), **common)
    return {DEV_FILE: dev, PROD_FILE: prod}


__all__ = ["DEV_FILE", "ENV_FILE_DIFFERENCES", "HEADER", "PROD_FILE", "ComposeTarget"]
