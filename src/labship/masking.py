"""Secret masking: what labship prints must never show a secret value.

``Masker`` replaces every occurrence of every non-empty secret value with ``****``, longest
first, in one pass. Short secrets are masked too (a secret must never appear), at the cost
of readability: a 1-3 character secret masks every occurrence of those characters. Each
line of a multi-line secret (a PEM key) is also masked, so output printed line by line
cannot leak it either.

Credentials in URLs (``https://user:token@host/simple``, from a spec's ``--index-url`` or
a tool's message) are masked by shape, whoever wrote them: ``hide_url_credentials``.

Standard library only, and independent of profiles: the console masks tool output with it
before any profile is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping

MASK = "****"
# scheme://userinfo@ : userinfo stops at the last '@' before the host (an unencoded '@' in
# a password is common), never crosses '/', whitespace or quotes.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s'\"`<>]*)@")
# user:password@host without a scheme: a user name (not after '/', ':' or '@', so never
# inside a URL's path or a scheme's userinfo), ':', a password up to the last '@' before
# a host. Not an image's tag before its digest (python:3.11@sha256:...).
_BARE_USERINFO = re.compile(
    r"(?<![\w.~%+/:@-])([\w.~%+-]+):(?!\*\*\*\*@)[^/\s'\"`<>]+@(?![a-z0-9]+:[0-9a-f]{32})(?=[\w\[])"
)


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


def hide_url_credentials(text: str) -> str:
    """``https://user:****@host``, ``https://****@host`` (a token alone): a URL's password,
    or its only credential, never reaches the screen; the user name stays readable. The
    same without a scheme (``user:****@host:5000/team``, as docker and pip accept a
    registry or an index): a password before ``@`` is hidden wherever it is written."""

    def hide(match: re.Match[str]) -> str:
        user, colon, _secret = match.group(2).partition(":")
        return f"{match.group(1)}{user}:{MASK}@" if colon else f"{match.group(1)}{MASK}@"

    text = _URL_USERINFO.sub(hide, text)
    return _BARE_USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", text)


# A variable is secret when labship.toml says so, or when it looks secret: a word of its
# name (split at _ . -) is one of these or ends in a long one (DBPASSWORD, GHTOKEN), or its
# value is a URL or DSN that carries a password. ``[env] public`` lists exceptions.
_SECRET_WORDS = frozenset(
    {"PASSWORD", "PASSWD", "PASS", "PWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN"}
    | {"TOKENS", "KEY", "KEYS", "APIKEY", "CREDENTIAL", "CREDENTIALS", "CREDS", "AUTH"}
)
_SECRET_ENDINGS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "CREDENTIALS")
_WORD_SPLIT = re.compile(r"[_.-]+")
# scheme://user:password@host, or a libpq DSN's password=...; linear on any input (a
# scheme pattern before :// would backtrack over every letter of a long value).
_PASSWORD_IN_VALUE = re.compile(r"://[^/\s:@]*:[^/\s@]+@|\bpassword\s*=\s*\S", re.IGNORECASE)


def looks_secret(key: str, value: str = "") -> bool:
    """True when the name or the value says "secret" (see ``_SECRET_WORDS``)."""
    words = [w for w in _WORD_SPLIT.split(key.upper()) if w]
    if any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDINGS) for w in words):
        return True
    return _PASSWORD_IN_VALUE.search(value) is not None


def secret_keys(
    values: Mapping[str, str], declared: Iterable[str] = (), public: Iterable[str] = ()
) -> frozenset[str]:
    """The one decision of which keys are masked: those declared secret, and those that
    look secret unless declared public (a key declared both is secret)."""
    declared, public = frozenset(declared), frozenset(public)
    found = {key for key, value in values.items() if looks_secret(key, value)}
    return declared | (found - public)


def mask_values(
    values: Mapping[str, str], secret_keys: Container[str], masker: Masker | None = None
) -> dict[str, str]:
    """Values safe to print: a secret key's value becomes ``****`` whole (even if empty),
    a secret repeated inside another value (``URL=postgres://u:<password>@db``) is
    masked where it appears, and so is any URL's credential (``SENTRY_DSN=https://<key>@
    host/1``), whatever the key: printing never needs one.

    ``masker`` defaults to one built from these values' own secrets; pass a wider one when
    a secret of another mapping (prod's password pasted into dev) must be hidden too.
    """
    if masker is None:
        masker = Masker(value for key, value in values.items() if key in secret_keys)
    return {
        key: MASK if key in secret_keys else hide_url_credentials(masker(value))
        for key, value in values.items()
    }


__all__ = ["MASK", "Masker", "hide_url_credentials", "looks_secret", "mask_values", "secret_keys"]
