"""The one Jinja environment: every file labship generates is rendered here."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2


def toml_value(value: object) -> str:
    """A TOML literal. JSON strings are TOML basic strings, but for DEL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def toml_key(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z0-9_-]+", value) else toml_value(value)


def yaml_plain_or_quoted(value: str) -> str:
    """Plain when YAML reads it back as the same string (not 1.0, yes, null), else quoted."""
    plain = re.fullmatch(r"[a-z][a-z0-9._-]*", value) and value.lower() not in {
        "y", "yes", "n", "no", "on", "off", "true", "false", "null",
    }  # fmt: skip
    return value if plain else json.dumps(value)


@cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("labship", "templates"),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(
        toml=toml_value, tomlkey=toml_key, yamlstr=yaml_plain_or_quoted, json=json.dumps
    )
    return env


def render(template: str, /, **context: Any) -> str:
    return environment().get_template(template).render(**context)
