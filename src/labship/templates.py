"""The one Jinja environment: every file labship generates is rendered here."""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2


def _toml_string(value: Any) -> str:
    """A TOML basic string: JSON's string escaping is valid TOML for str values."""
    return json.dumps(str(value), ensure_ascii=False)


@cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("labship", "templates"),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["toml"] = _toml_string
    return env


def render(template: str, /, **context: Any) -> str:
    return environment().get_template(template).render(**context)
