"""Profiles: ``.env_<name>`` files at the project root, and what a job's environment is.

A profile (``.env_dev``, ``.env_prod``, ...) holds the variables a job needs; ``dev`` is the
default. labship.toml lists which variables are required and which are secret. This module
is imported by ``labship run``, so it uses the standard library only.

The env-file grammar is ``labship.profiles.envfile``; its parse functions are re-exported
here.

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
from labship.profiles.envfile import parse_env_file, parse_env_text

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
_PROFILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


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
