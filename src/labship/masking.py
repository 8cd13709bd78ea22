"""Secret masking: what labship prints must never show a secret value.

``Masker`` replaces every occurrence of every non-empty secret value with ``****``, longest
first, in one pass. Short secrets are masked too (a secret must never appear), at the cost
of readability: a 1-3 character secret masks every occurrence of those characters. Each
line of a multi-line secret (a PEM key) is also masked, so output printed line by line
cannot leak it either.

Standard library only, and independent of profiles: the console masks tool output with it
before any profile is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping

MASK = "****"


class Masker:
    """Replace secret values in text with ``****``; callable, so it drops into any printer."""

    def __init__(self, secrets: Iterable[str]) -> None:
        needles: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            needles.add(secret)
            if "\n" in secret or "\r" in secret:
                needles.update(line for line in secret.splitlines() if line.strip())
        ordered = sorted(needles, key=lambda s: (-len(s), s))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def __repr__(self) -> str:
        return "Masker(<secrets hidden>)"


def mask_values(
    values: Mapping[str, str], secret_keys: Container[str], masker: Masker | None = None
) -> dict[str, str]:
    """Values safe to print: a secret key's value becomes ``****`` whole (even if empty),
    and a secret repeated inside another value (``URL=postgres://u:<password>@db``) is
    masked where it appears.

    ``masker`` defaults to one built from these values' own secrets; pass a wider one when
    a secret of another mapping (prod's password pasted into dev) must be hidden too.
    """
    if masker is None:
        masker = Masker(value for key, value in values.items() if key in secret_keys)
    return {key: MASK if key in secret_keys else masker(value) for key, value in values.items()}


__all__ = ["MASK", "Masker", "mask_values"]
