"""Helpers shared by the profile tests: a secret that must never leak, tiny files."""

from __future__ import annotations

from pathlib import Path

from labship.profiles import Profile

SECRET = "Sup3r-S3cret!pw"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def profile(name: str, values: dict[str, str], secret: tuple[str, ...] = ()) -> Profile:
    return Profile(
        name=name, path=Path(f".env_{name}"), values=values, secret_keys=frozenset(secret)
    )
