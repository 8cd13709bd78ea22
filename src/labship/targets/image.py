"""The ``image`` target: docker/Dockerfile, exported or ejected like every other
generated file. The image engine (``labship.images``) renders it and builds it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labship.generated import Planned
    from labship.targets.base import Context


class ImageTarget:
    """docker/Dockerfile: generated until ejected, then the user's and built as is."""

    name = "image"

    def plan(self, context: Context) -> list[Planned]:
        from labship.images.dockerfile import planned

        return [planned(context.project)]
