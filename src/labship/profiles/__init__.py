r"""Profiles: ``.env_<name>`` files at the project root, and what a job's environment is.

A profile (``.env_dev``, ``.env_prod``, ...) holds the variables a job needs; ``dev`` is the
default. labship.toml lists which variables are required and which are secret. This module
is imported by ``labship run``, so it uses the standard library only.

Env-file grammar
================

Portable: the same value in labship, Compose 1.29 and Compose v2; constructs they read
differently are refused. That is, the subset of Docker Compose's grammar on which
docker-compose 1.29 (python-dotenv 0.21) and Compose v2 (compose-go) agree, so
``env_file: .env_prod`` in the exported compose files gives the job what labship gives it.
A refused line is a ProfileError (exit 65) saying what to write instead.

| input                    | value            | note                                     |
|--------------------------|------------------|------------------------------------------|
| blank, ``# comment``     | (ignored)        | indented comments too                    |
| ``KEY=value``            | ``value``        | blanks around KEY and value stripped     |
| ``export KEY=value``     | ``value``        | optional ``export`` prefix               |
| ``KEY=a b # note``       | ``a b``          | a comment starts at a space + ``#``      |
| ``KEY=a#b``              | ``a#b``          | no blank before ``#``: literal           |
| ``KEY= # note``          | ``# note``       | as Compose: leading blanks go first      |
| ``KEY=``                 | empty string     |                                          |
| ``KEY=C:\temp``          | ``C:\temp``      | unquoted: a backslash is literal         |
| ``KEY="a\nb"``           | escapes decoded  | only ``\n \t \r \\ \"``; may span lines  |
| ``KEY='a $b \c'``        | ``a $b \c``      | literal; may span lines                  |
| ``KEY="x" # note``       | ``x``            | after a quote: only blanks, a comment    |
| duplicate ``KEY``        | last one wins    | as Compose                               |
| ``KEY`` (no ``=``)       | ProfileError     | Compose reads the shell; labship won't   |
| ``$`` unquoted or in     | ProfileError     | ``$A``, ``${A}``, ``${A:-d}``, ``$$``,   |
| double quotes            |                  | ``\$``: see below; use ``'...$...'``     |
| ``"\q"`` (other escape)  | ProfileError     | 1.29 and v2 decode different sets;       |
|                          |                  | write ``\\`` for a backslash             |
| ``"...\\"`` (ends ``\``) | ProfileError     | 1.29 reads ``\"`` as a quote             |
| ``'a\\b'``, ``'a\'``     | ProfileError     | 1.29 decodes ``\\`` and ``\'`` in single |
|                          |                  | quotes, v2 does not                      |
| ``'${A}'``               | ProfileError     | 1.29 expands it, v2 does not             |
| ``KEY=a<TAB># x``        | ProfileError     | 1.29 starts a comment, v2 does not       |
| control char, non-ASCII  | ProfileError     | trimmed differently (outside quotes)     |
| blank (U+00A0, ...)      |                  |                                          |
| lone CR; CRLF inside a   | ProfileError     | 1.29 reads CR as a line break; in a      |
| multi-line quoted value  |                  | quoted value v2 keeps CR, 1.29 drops it  |

No interpolation at all: Compose v2 resolves ``${NAME}`` from the caller's shell (and the
project's ``.env``) *before* the file's earlier keys, 1.29 the other way round, and 1.29
never expands a bare ``$NAME``; so no ``$`` reference means the same thing everywhere.
There is no portable spelling of a literal ``${``. labship never reads the shell either:
a prod job does not depend on who starts it.

KEY must match ``[A-Za-z_][A-Za-z0-9_.-]*``. Lines may end in LF or CRLF; a UTF-8 BOM is
ignored.

Errors name the file, the line and the key, never a value: a malformed line may hold a
secret.

A job's environment
===================

``job_environment`` gives a job EXACTLY: a small base taken from the caller, then the
profile's values (which win over the base), then ``extra`` from the runtime (which wins over
everything: ``VIRTUAL_ENV``, ``LABSHIP_PROFILE``, ``LABSHIP_JOB``, ...), then
``path_prefix`` is put in front of ``PATH``. Nothing else from the caller's shell leaks in
(no ``AWS_*``, no ``PYTHONPATH``, no ``CONDA_PREFIX``): what runs on a laptop runs the same
in CI and in the image.

| base variable                                  | passed    | why                          |
|------------------------------------------------|-----------|------------------------------|
| ``PATH``                                       | always    | find tools; default          |
|                                                |           | ``/usr/local/bin:/usr/bin:/bin`` |
| ``HOME``                                       | if set    | caches, ``~`` expansion      |
| ``USER``, ``LOGNAME``                          | if set    | ``getpass.getuser()``        |
| ``LANG``, ``LC_ALL``, ``LC_CTYPE``             | if set    | encoding (macOS Terminal     |
|                                                |           | sets only LC_CTYPE)          |
| ``TZ``                                         | if set    | local time                   |
| ``TERM``                                       | if set    | colours, progress bars       |
| ``TMPDIR``                                     | if set    | per-user temp dir (macOS)    |
| ``HTTP_PROXY``, ``HTTPS_PROXY``, ``NO_PROXY``, | if set    | corporate proxy; curl reads  |
| ``http_proxy``, ``https_proxy``, ``no_proxy``  |           | only the lowercase ones      |
| ``SSL_CERT_FILE``, ``SSL_CERT_DIR``            | if set    | corporate CA (OpenSSL, uv)   |
| ``REQUESTS_CA_BUNDLE``                         | if set    | corporate CA (requests)      |
| ``SYSTEMROOT``                                 | if set    | Windows: no sockets without  |

``PIP_CERT`` is not passed: jobs do not run pip, and uv reads ``SSL_CERT_FILE``.

Masking is ``labship.masking``; ``Masker`` and ``MASK`` are re-exported here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from labship.errors import ProfileError, UsageError
from labship.masking import MASK, Masker, mask_values

DEFAULT_PROFILE = "dev"
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

BASE_VARIABLES: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TERM",
    "TMPDIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "SYSTEMROOT",
)

_EMPTY: Mapping[str, str] = MappingProxyType({})
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_EXPORT_RE = re.compile(r"export[ \t]+")
_PROFILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_QUOTE_NAMES = {'"': "double", "'": "single"}
# Double-quote escapes that python-dotenv 0.21 and compose-go decode alike.
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}
# Outside quotes: control characters and blanks other than space and tab, which the two
# Composes trim (or take as a comment's start) differently.
_ODD_CHAR_RE = re.compile(r"[^\S \t]|[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_LONE_CR_RE = re.compile(r"\r(?!\n)")

_HINT_DOLLAR = (
    "for a literal $ use single quotes: KEY='...$...'; labship does not expand variables, "
    "so repeat the value instead of referencing it"
)
_WHY_DOLLAR = "(Compose 1.29 and v2 expand it differently, v2 from the caller's shell first)"


# --------------------------------------------------------------------------- parsing


def parse_env_file(path: Path) -> dict[str, str]:
    """Read one env file; errors carry ``path:line`` so the user can jump to it."""
    try:
        # newline="": keep CR, so CR line breaks the Composes read differently are seen.
        with path.open(encoding="utf-8-sig", newline="") as stream:
            text = stream.read()
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: is not UTF-8 text", hint="save it as UTF-8") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from None
    return parse_env_text(text, source=str(path))


def parse_env_text(text: str, *, source: str) -> dict[str, str]:
    """Parse env-file text (grammar in the module docstring); ``source`` names it in errors."""
    return _Parser(text, source).parse()


class _Parser:
    """One pass over the lines; quoted values may swallow following lines."""

    def __init__(self, text: str, source: str) -> None:
        text = text.removeprefix("\ufeff")
        self.source = source
        lone_cr = _LONE_CR_RE.search(text)
        if lone_cr:
            raise self.error(
                text.count("\n", 0, lone_cr.start()) + 1,
                "a carriage return that does not end a line (Compose 1.29 reads it as a"
                " line break, Compose v2 does not)",
                "save the file with LF (or CRLF) line endings",
            )
        raw = text.split("\n")
        # Which lines ended in CRLF: a quoted value must not span one.
        self.crlf = [line.endswith("\r") for line in raw]
        self.lines = [line.removesuffix("\r") for line in raw]
        self.values: dict[str, str] = {}

    def error(self, lineno: int, what: str, hint: str | None = None) -> ProfileError:
        return ProfileError(f"{self.source}:{lineno}: {what}", hint=hint)

    def odd_chars(self, text: str, key: str, lineno: int) -> None:
        if _ODD_CHAR_RE.search(text):
            raise self.error(
                lineno,
                f"{key}: a control character or a non-ASCII blank outside quotes"
                " (Compose 1.29 and v2 trim it differently)",
                "delete it, or put the value in quotes",
            )

    def parse(self) -> dict[str, str]:
        index = 0
        while index < len(self.lines):
            lineno = index + 1
            line = self.lines[index].strip(" \t")
            index += 1
            if not line or line.startswith("#"):
                continue
            export = _EXPORT_RE.match(line)
            if export:
                line = line[export.end() :]
            if "=" not in line:
                # Never echo the line: it may be a pasted secret.
                if _KEY_RE.fullmatch(line):
                    what = "a variable without `=`"
                    hint = "write KEY=value; labship never takes values from the shell"
                else:
                    what = "not a KEY=value line"
                    hint = "write KEY=value, or start the line with # to comment it out"
                raise self.error(lineno, what, hint)
            key, _, rest = line.partition("=")
            key = key.strip(" \t")
            if not _KEY_RE.fullmatch(key):
                raise self.error(
                    lineno,
                    "the name before `=` is not a valid variable name",
                    "use letters, digits, _ . - and do not start with a digit",
                )
            rest = rest.lstrip(" \t")
            if rest[:1] in ('"', "'"):
                value, index = self.quoted(key, rest, lineno, index)
            else:
                value = self.unquoted(key, rest, lineno)
            self.values[key] = value
        return self.values

    def unquoted(self, key: str, rest: str, lineno: int) -> str:
        comment = rest.find(" #")
        value = rest[:comment] if comment >= 0 else rest  # both Composes drop the comment
        self.odd_chars(value, key, lineno)
        value = value.rstrip(" \t")
        if "\t#" in value:
            raise self.error(
                lineno,
                f"{key}: a `#` right after a tab in an unquoted value (Compose 1.29 starts"
                " a comment there, Compose v2 does not)",
                "put a space before the # of a comment, or quote the value: KEY='a<TAB>#b'",
            )
        if "$" in value:
            raise self.error(
                lineno, f"{key}: a `$` in an unquoted value {_WHY_DOLLAR}", _HINT_DOLLAR
            )
        return value

    def quoted(self, key: str, rest: str, lineno: int, index: int) -> tuple[str, int]:
        """Read a quoted value starting at ``rest``; returns it and the next line index."""
        quote = rest[0]
        body = rest[1:]
        while True:
            end = self.closing_quote(body, quote)
            if end >= 0:
                break
            if index >= len(self.lines):
                raise self.error(
                    lineno,
                    f"{key}: the {_QUOTE_NAMES[quote]} quote is never closed",
                    f"close it with {quote}",
                )
            if self.crlf[index - 1]:
                raise self.error(
                    lineno,
                    f"{key}: a quoted value spans CRLF line breaks (Compose v2 keeps the"
                    " CR, Compose 1.29 drops it)",
                    r"save the file with LF line endings, or write \n in double quotes",
                )
            body += "\n" + self.lines[index]
            index += 1
        content = body[:end]
        value = (
            self.single_quoted(content, key, lineno)
            if quote == "'"
            else self.double_quoted(content, key, lineno)
        )
        after = body[end + 1 :].strip(" \t")
        if after and not after.startswith("#"):
            raise self.error(
                lineno,
                f"{key}: unexpected text after the closing quote",
                "only a # comment may follow a quoted value",
            )
        return value, index

    @staticmethod
    def closing_quote(body: str, quote: str) -> int:
        """Index of the closing quote in ``body``, or -1; backslash escapes in double quotes."""
        if quote == "'":
            return body.find("'")
        i = 0
        while i < len(body):
            if body[i] == "\\":
                i += 2
                continue
            if body[i] == '"':
                return i
            i += 1
        return -1

    def single_quoted(self, content: str, key: str, lineno: int) -> str:
        if "\\\\" in content or content.endswith("\\"):
            raise self.error(
                lineno,
                f"{key}: `\\\\` or a final `\\` in single quotes (Compose 1.29 decodes"
                " \\\\ and \\' there, Compose v2 does not)",
                "a backslash before any other character is fine; or use double quotes"
                ' with \\\\ for each backslash: KEY="a\\\\\\\\b"',
            )
        if "${" in content:
            raise self.error(
                lineno,
                f"{key}: `${{` in single quotes (Compose 1.29 expands it, Compose v2 does not)",
                "no spelling gives a literal ${ in both Composes: avoid it",
            )
        return content

    def double_quoted(self, content: str, key: str, lineno: int) -> str:
        out: list[str] = []
        i = 0
        while i < len(content):
            char = content[i]
            if char == "$":
                raise self.error(
                    lineno, f"{key}: a `$` in double quotes {_WHY_DOLLAR}", _HINT_DOLLAR
                )
            if char != "\\":
                out.append(char)
                i += 1
                continue
            nxt = content[i + 1]  # closing_quote never leaves a backslash last
            if nxt == "$":
                raise self.error(
                    lineno, f"{key}: `\\$` in double quotes {_WHY_DOLLAR}", _HINT_DOLLAR
                )
            if nxt not in _ESCAPES:
                raise self.error(
                    lineno,
                    f'{key}: a backslash escape other than \\n \\t \\r \\\\ \\" in double'
                    " quotes (Compose 1.29 and v2 decode different ones)",
                    "write \\\\ for a backslash, or put the value in single quotes"
                    " or leave it unquoted (there a backslash is literal)",
                )
            out.append(_ESCAPES[nxt])
            i += 2
        if content.endswith("\\"):
            raise self.error(
                lineno,
                f"{key}: a double-quoted value ending in a backslash (Compose 1.29 reads"
                ' \\" as an escaped quote)',
                "leave the value unquoted: there a backslash is literal",
            )
        return "".join(out)


# --------------------------------------------------------------------------- profiles


def profile_path(root: Path, name: str) -> Path:
    return root / f".env_{name}"


def list_profiles(root: Path) -> list[str]:
    """Existing profile names; editor backups (``.env_dev~``, ``.env_dev.bak``) are not ones."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    names = [
        entry.name[len(".env_") :]
        for entry in entries
        if entry.name.startswith(".env_")
        and _PROFILE_NAME_RE.fullmatch(entry.name[len(".env_") :])
        and entry.is_file()
    ]
    return sorted(names)


@dataclass(frozen=True)
class Profile:
    """A parsed profile. Its repr is masked so a stray log line cannot leak a secret."""

    name: str
    path: Path
    values: dict[str, str]
    secret_keys: frozenset[str] = field(default_factory=frozenset)

    def masked(self) -> dict[str, str]:
        """Values safe to print: this profile's secrets masked wherever they appear."""
        return mask_values(self.values, self.secret_keys)

    def __repr__(self) -> str:
        return (
            f"Profile(name={self.name!r}, path={self.path!r}, values={self.masked()!r}, "
            f"secret_keys={sorted(self.secret_keys)!r})"
        )


def load_profile(
    root: Path,
    name: str,
    *,
    required: Sequence[str] = (),
    secret: Sequence[str] = (),
) -> Profile:
    """Load ``.env_<name>``; fail early, naming every missing variable at once."""
    path = profile_path(root, name)
    if not _PROFILE_NAME_RE.fullmatch(name) or not path.is_file():
        existing = list_profiles(root)
        hint = (
            f"profiles here: {', '.join(existing)}"
            if existing
            else f"no .env_<name> files in {root}; create {path.name}"
        )
        raise UsageError(f"unknown profile {name!r}: {path} does not exist", hint=hint)
    values = parse_env_file(path)
    missing = _missing(values, required)
    if missing:
        see = " (see .env.example)" if (root / ".env.example").is_file() else ""
        raise ProfileError(
            f"{path}: missing required variable{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (profile {name!r})",
            hint=f"add {'them' if len(missing) > 1 else 'it'} to {path.name}{see}",
        )
    return Profile(name=name, path=path, values=values, secret_keys=frozenset(secret))


def _missing(values: Mapping[str, str], required: Sequence[str]) -> list[str]:
    """Required keys absent or empty, in the order labship.toml lists them."""
    return [key for key in dict.fromkeys(required) if not values.get(key)]


def job_environment(
    profile: Profile,
    *,
    extra: Mapping[str, str] = _EMPTY,
    caller_env: Mapping[str, str] | None = None,
    path_prefix: Sequence[str] = (),
) -> dict[str, str]:
    """The whole environment of a job: base < profile < extra, then ``path_prefix``.

    ``path_prefix`` (e.g. the venv's ``bin``) goes in front of whatever PATH won, so the
    runtime need not know the caller's PATH.
    """
    caller = os.environ if caller_env is None else caller_env
    env = {name: caller[name] for name in BASE_VARIABLES if name in caller}
    if not env.get("PATH"):
        env["PATH"] = DEFAULT_PATH
    env.update(profile.values)
    env.update(extra)
    if path_prefix:
        env["PATH"] = os.pathsep.join([*path_prefix, env["PATH"]])
    return env


def secret_values(profile: Profile) -> list[str]:
    """Non-empty values of the profile's secret keys, longest first, without duplicates."""
    found = {v for k, v in profile.values.items() if k in profile.secret_keys and v}
    return sorted(found, key=lambda s: (-len(s), s))


# --------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class KeyDifference:
    """One key that is not the same everywhere. Never holds a value."""

    key: str
    present_in: tuple[str, ...]
    missing_from: tuple[str, ...]
    values_differ: bool
    secret: bool

    def describe(self) -> str:
        parts = []
        if self.missing_from:
            parts.append(f"missing from {', '.join(self.missing_from)}")
        if self.values_differ:
            parts.append("values differ")
        return f"{self.key}: {'; '.join(parts)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "present_in": list(self.present_in),
            "missing_from": list(self.missing_from),
            "values_differ": self.values_differ,
            "secret": self.secret,
        }


def diff_profiles(profiles: Sequence[Profile]) -> list[KeyDifference]:
    """Keys set in some profiles but not all, and keys whose values differ, sorted by key.

    Secret values are compared (prod sharing dev's password is worth knowing) but only the
    fact that they differ is reported.
    """
    names = [p.name for p in profiles]
    keys = sorted({key for p in profiles for key in p.values})
    differences = []
    for key in keys:
        present = tuple(p.name for p in profiles if key in p.values)
        missing = tuple(name for name in names if name not in present)
        distinct = {p.values[key] for p in profiles if key in p.values}
        if missing or len(distinct) > 1:
            differences.append(
                KeyDifference(
                    key=key,
                    present_in=present,
                    missing_from=missing,
                    values_differ=len(distinct) > 1,
                    secret=any(key in p.secret_keys for p in profiles),
                )
            )
    return differences


@dataclass(frozen=True)
class ProfileReport:
    """One profile as ``labship env`` shows it; ``values`` are already masked."""

    name: str
    path: Path
    values: dict[str, str]
    secret_keys: tuple[str, ...]
    missing: tuple[str, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "default": self.name == DEFAULT_PROFILE,
            "ok": self.ok,
            "error": self.error,
            "missing": list(self.missing),
            "values": dict(self.values),
            "secret_keys": list(self.secret_keys),
        }


@dataclass(frozen=True)
class EnvReport:
    """Every profile of a project, masked, plus how they differ. Holds no secret value."""

    root: Path
    required: tuple[str, ...]
    secret: tuple[str, ...]
    profiles: tuple[ProfileReport, ...]
    differences: tuple[KeyDifference, ...]

    @property
    def ok(self) -> bool:
        return bool(self.profiles) and all(p.ok for p in self.profiles)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "default_profile": DEFAULT_PROFILE,
            "ok": self.ok,
            "required": list(self.required),
            "secret": list(self.secret),
            "profiles": [p.to_json() for p in self.profiles],
            "differences": [d.to_json() for d in self.differences],
        }

    def to_text(self) -> str:
        if not self.profiles:
            return f"no profiles in {self.root}: create .env_{DEFAULT_PROFILE} (see .env.example)"
        names = [p.name for p in self.profiles]
        keys = sorted({k for p in self.profiles for k in p.values} | set(self.required))
        header = ["KEY", *(f"{n} (default)" if n == DEFAULT_PROFILE else n for n in names)]
        rows = [header]
        for key in keys:
            row = [key + (" (secret)" if key in self.secret else "")]
            for p in self.profiles:
                if p.error is not None:
                    row.append("?")
                elif key in p.values and key not in p.missing:
                    row.append(_cell(p.values[key]))
                else:
                    row.append("MISSING" if key in p.missing else "-")
            rows.append(row)
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
        for p in self.profiles:
            if p.error is not None:
                lines.append(f"{p.name}: error: {p.error}")
            elif p.missing:
                lines.append(f"{p.name}: missing required {', '.join(p.missing)}")
        if self.differences:
            lines.append("differences:")
            lines.extend(f"  {d.describe()}" for d in self.differences)
        return "\n".join(lines)


_CELL_WIDTH = 32


def _cell(value: str) -> str:
    """One table cell: control characters made visible, long values shortened."""
    if value == "":
        return '""'
    shown = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    shown = shown.replace("\t", "\\t")
    return shown if len(shown) <= _CELL_WIDTH else shown[: _CELL_WIDTH - 1] + "…"


def env_report(
    root: Path,
    *,
    required: Sequence[str] = (),
    secret: Sequence[str] = (),
) -> EnvReport:
    """Look at every profile without failing on the first bad one: report, don't raise."""
    secret_keys = frozenset(secret)
    loaded: list[Profile] = []
    errors: dict[str, str] = {}
    for name in list_profiles(root):
        path = profile_path(root, name)
        try:
            values = parse_env_file(path)
        except ProfileError as exc:
            errors[name] = str(exc)
            values = {}
        loaded.append(Profile(name=name, path=path, values=values, secret_keys=secret_keys))
    # A value secret in any profile is masked in every profile.
    masker = Masker(v for p in loaded for v in secret_values(p))
    reports = [
        ProfileReport(
            name=p.name,
            path=p.path,
            values=mask_values(p.values, secret_keys, masker),
            secret_keys=tuple(sorted(secret_keys & p.values.keys())),
            missing=() if p.name in errors else tuple(_missing(p.values, required)),
            error=errors.get(p.name),
        )
        for p in loaded
    ]
    parsed = [p for p in loaded if p.name not in errors]
    return EnvReport(
        root=root,
        required=tuple(dict.fromkeys(required)),
        secret=tuple(dict.fromkeys(secret)),
        profiles=tuple(reports),
        differences=tuple(diff_profiles(parsed)),
    )


__all__ = [
    "BASE_VARIABLES",
    "DEFAULT_PROFILE",
    "MASK",
    "EnvReport",
    "KeyDifference",
    "Masker",
    "Profile",
    "ProfileReport",
    "diff_profiles",
    "env_report",
    "job_environment",
    "list_profiles",
    "load_profile",
    "parse_env_file",
    "parse_env_text",
    "profile_path",
    "secret_values",
]
