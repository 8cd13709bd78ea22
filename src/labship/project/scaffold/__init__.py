"""Make projects: ``labship new`` writes a fresh one, ``labship init`` adopts a folder.

Both only ever *add* files, never change one: every file is rendered in memory first
(a template error writes nothing), then created with ``O_EXCL`` so an existing file
can never be overwritten, even by a race. A failure while writing removes what was
written. Profiles (``.env_*``) are created 0600 from the first byte, never chmod-ed
after the secret is on disk.

labship.toml is written from a ``Settings`` object by ``render_settings``, so what new
and init write obeys the same rules ``labship run`` reads it with.
"""

from __future__ import annotations

from labship.project.scaffold._shared import ScaffoldResult
from labship.project.scaffold.adopt import init_project
from labship.project.scaffold.new import new_project

__all__ = ["ScaffoldResult", "init_project", "new_project"]
