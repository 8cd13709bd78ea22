"""``labship env``: every profile of a project side by side, masked, and how they differ.

Only ``labship env`` needs this, so ``labship.profiles`` imports it on first use, not when
``labship run`` loads a profile. The report holds no secret value: values are masked
before they reach it, and differences say only that values differ, never what they are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labship.errors import ProfileError
from labship.masking import Masker, mask_values
from labship.masking import secret_keys as secret_keys_of
from labship.profiles import (
    DEFAULT_PROFILE,
    Profile,
    creation_hint,
    list_profiles,
    missing_required,
    profile_path,
    profile_values,
    secret_values,
)


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
class MissingProfile:
    """A profile every project needs, or one a compose file names, that has no file."""

    name: str
    named_by: tuple[str, ...]  # "the default", "labship run --profile prod", "compose.yaml"
    hint: str  # how to make it

    def describe(self) -> str:
        return f"missing profile {self.name} ({', '.join(self.named_by)}): {self.hint}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "named_by": list(self.named_by), "hint": self.hint}


@dataclass(frozen=True)
class ProfileReport:
    """One profile as ``labship env`` shows it; ``values`` are already masked."""

    name: str
    path: Path
    values: dict[str, str]
    secret_keys: tuple[str, ...]
    missing: tuple[str, ...]
    error: str | None = None
    holds_secrets: bool = False  # a secret key with a value
    mode: int | None = None  # permission bits; None when they cannot be read
    ends_with_newline: bool = True

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing

    @property
    def open_to_others(self) -> bool:
        """It holds a secret, and users other than its owner may read or write it."""
        return self.holds_secrets and self.mode is not None and bool(self.mode & 0o077)

    def warnings(self) -> list[str]:
        said = []
        if self.open_to_others:
            said.append(
                f"warning: {self.path.name} holds secrets and other users may read it "
                f"(mode {self.mode:04o}): chmod 600 {self.path.name}"
            )
        if not self.ends_with_newline:
            said.append(
                f"note: {self.path.name} does not end with a newline: a line added with "
                f"'echo ... >> {self.path.name}' would join its last line"
            )
        return said

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
            "mode": None if self.mode is None else f"{self.mode:04o}",
            "open_to_others": self.open_to_others,
            "ends_with_newline": self.ends_with_newline,
        }


@dataclass(frozen=True)
class RuntimeVariables:
    """What the local runtime sets beside the profile for one locked set's environment
    (its conda prefix): ``path`` goes on PATH after the venv's ``bin``."""

    set_name: str  # "prod" or "dev"
    used_by: str  # who gets this environment, in words
    path: tuple[str, ...]
    variables: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "set": self.set_name,
            "used_by": self.used_by,
            "path_after_venv": list(self.path),
            "variables": dict(self.variables),
        }

    def lines(self) -> list[str]:
        return [
            f"  {self.set_name} environment ({self.used_by}):",
            f"    PATH: {os.pathsep.join(self.path)} after the venv's bin",
            *(f"    {key}={value}" for key, value in self.variables),
        ]


@dataclass(frozen=True)
class EnvReport:
    """Every profile of a project, masked, plus how they differ. Holds no secret value."""

    root: Path
    required: tuple[str, ...]
    secret: tuple[str, ...]
    profiles: tuple[ProfileReport, ...]
    differences: tuple[KeyDifference, ...]
    # Said, but not failures: prod secrets need not be on every machine.
    missing_profiles: tuple[MissingProfile, ...] = ()
    # What the local runtime sets beside the profile (a conda prefix's PATH, loader path).
    runtime_variables: tuple[RuntimeVariables, ...] = ()

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
            "missing_profiles": [m.to_json() for m in self.missing_profiles],
            "runtime_variables": [r.to_json() for r in self.runtime_variables],
        }

    def to_text(self) -> str:
        lines = self._table() if self.profiles else [f"no profiles in {self.root}"]
        for p in self.profiles:
            lines.extend(p.warnings())
        lines.extend(m.describe() for m in self.missing_profiles)
        if self.runtime_variables:
            lines.append("set by labship beside the profile (local runtime):")
            for found in self.runtime_variables:
                lines.extend(found.lines())
        return "\n".join(lines)

    def _table(self) -> list[str]:
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
        return lines


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
    public: Sequence[str] = (),
) -> EnvReport:
    """Look at every profile without failing on the first bad one: report, don't raise."""
    loaded: list[Profile] = []
    errors: dict[str, str] = {}
    for name in list_profiles(root):
        path = profile_path(root, name)
        try:
            values = profile_values(root, path)
        except ProfileError as exc:
            errors[name] = str(exc)
            values = {}
        loaded.append(Profile(name, path, values, secret_keys_of(values, secret, public)))
    # A key secret in any profile (declared, or looking secret) is secret in every profile.
    secret_keys = frozenset(secret).union(*(p.secret_keys for p in loaded))
    # A value secret in any profile is masked in every profile.
    masker = Masker(v for p in loaded for v in secret_values(p))
    reports = [
        ProfileReport(
            name=p.name,
            path=p.path,
            values=mask_values(p.values, secret_keys, masker),
            secret_keys=tuple(sorted(secret_keys & p.values.keys())),
            missing=() if p.name in errors else tuple(missing_required(p.values, required)),
            error=errors.get(p.name),
            holds_secrets=bool(secret_values(p)),
            **_file_facts(p.path),
        )
        for p in loaded
    ]
    parsed = [p for p in loaded if p.name not in errors]
    return EnvReport(
        root=root,
        required=tuple(dict.fromkeys(required)),
        secret=tuple(dict.fromkeys([*secret, *sorted(secret_keys)])),
        profiles=tuple(reports),
        differences=tuple(diff_profiles(parsed)),
        missing_profiles=tuple(missing_profiles(root, required)),
    )


def _file_facts(path: Path) -> dict[str, Any]:
    """Its permission bits and whether it ends with a newline; unknown ones are let be."""
    try:
        with path.open("rb") as stream:
            info = os.fstat(stream.fileno())
            last = b"\n"  # an empty file has no last line to join
            if info.st_size:
                stream.seek(-1, os.SEEK_END)
                last = stream.read(1)
    except OSError:
        return {}
    return {"mode": info.st_mode & 0o777, "ends_with_newline": last == b"\n"}


# A profile named in a compose file: ``env_file: .env_staging``.
_NAMED = re.compile(r"(?<![\w.])\.env_([A-Za-z0-9][A-Za-z0-9_-]*)(?![\w.-])")


def missing_profiles(root: Path, required: Sequence[str] = ()) -> list[MissingProfile]:
    """dev and prod, and every profile a compose file at the root names, without a file.

    Compose files are read as text: a name is all that is needed, and a malformed one
    still names its profiles.
    """
    named: dict[str, list[str]] = {
        DEFAULT_PROFILE: ["the default profile"],
        "prod": ["labship run --profile prod"],
    }
    for compose in sorted(root.glob("*compose*.y*ml")):
        try:
            text = compose.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for name in dict.fromkeys(_NAMED.findall(text)):
            named.setdefault(name, []).append(compose.name)
    existing = set(list_profiles(root))
    return [
        MissingProfile(name, tuple(by), creation_hint(root, name, required))
        for name, by in named.items()
        if name not in existing
    ]


__all__ = [
    "EnvReport",
    "KeyDifference",
    "MissingProfile",
    "ProfileReport",
    "diff_profiles",
    "env_report",
    "missing_profiles",
]
