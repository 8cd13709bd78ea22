"""BuildKit: the one place labship runs ``docker build``, for the project's images and
the serving image alike.

No ``-t`` on the build: the image id comes back through ``--iidfile`` and the tags move
only once the build succeeded, so a failed or interrupted build leaves the previous
image and its tags untouched. The CA bundle is a secret, mounted for one RUN and never
a layer; ``--network=host`` lets the build reach what the host reaches (a proxy, a
local index).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import Interrupted, LabshipError, ToolError

if TYPE_CHECKING:
    from labship.console import Console
    from labship.tools.docker import Client


@dataclass(frozen=True)
class Build:
    """One ``docker build``: what it is called in messages, and its inputs."""

    what: str  # "prod image", "serving image"
    context: Path
    dockerfile: Path
    stage: str  # the Dockerfile stage built (--target)
    base: str
    ca: Path | None
    labels: Mapping[str, str]
    build_args: Mapping[str, str] = field(default_factory=dict)
    no_cache: bool = False
    unchanged: str = "the previous image is unchanged"  # what a failure leaves


def engine() -> Client:
    """The client that builds (with BuildKit), once the engine answered."""
    from labship.tools.docker import build_client, ping

    client = build_client()
    ping()
    return client


def argv(build: Build, iidfile: Path) -> list[str]:
    """The arguments after 'docker build'."""
    out = ["--no-cache"] if build.no_cache else []
    out += ["--target", build.stage, "--network=host", "--progress=plain"]
    out += ["--iidfile", str(iidfile), "--file", str(build.dockerfile)]
    out += ["--build-arg", f"BASE_IMAGE={build.base}"]
    if build.ca is not None:
        out += ["--secret", f"id=ca,src={build.ca}"]
    for key, value in build.build_args.items():
        out += ["--build-arg", f"{key}={value}"]
    for key, value in build.labels.items():
        out += ["--label", f"{key}={value}"]
    out.append(str(build.context))
    return out


def run(
    build: Build,
    tags: Sequence[str],
    client: Client,
    *,
    console: Console,
    explain: Callable[[str], LabshipError | None] | None = None,
) -> str:
    """Build, then point ``tags`` at the new image; its id. A failure is one error: the
    base image that cannot be pulled, what ``explain`` makes of docker's stderr (the
    packages that do not import), else docker's own last lines."""
    from labship.images.base import base_unavailable
    from labship.tools.docker import docker, pull_failure
    from labship.tools.process import failure_message, run_tool

    iidfile = build.context.parent / f"{build.context.name}.iid"
    full = [*client.build_argv, *argv(build, iidfile)]
    try:
        result = run_tool("docker", full, console=console, env=client.env(), check=False)
        image_id = iidfile.read_text(encoding="utf-8").strip() if iidfile.is_file() else ""
    except KeyboardInterrupt:
        raise Interrupted(f"{build.what} build interrupted; {build.unchanged}") from None
    finally:
        iidfile.unlink(missing_ok=True)
    if result.returncode != 0:
        unpullable = pull_failure(result.stderr)
        if unpullable is not None:
            raise base_unavailable(*unpullable)
        explained = explain(result.stderr) if explain is not None else None
        if explained is not None:
            raise explained
        raise ToolError(
            f"{build.what} build failed; {build.unchanged}: "
            + failure_message("docker", full, result, console)
        )
    if not image_id:
        raise ToolError(f"{build.what} build gave no image id; {build.unchanged}")
    for tag in tags:
        docker(["tag", image_id, tag], console=console)
    return image_id
