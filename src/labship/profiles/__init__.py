"""Profiles: ``.env_<name>`` files at the project root, and what a job's environment is.

A profile (``.env_dev``, ``.env_prod``, ...) holds the variables a job needs; ``dev`` is the
default. labship.toml lists which variables are required and which are secret. This module
is imported by ``labship run``, so it uses the standard library only, and it leaves the
``labship env`` report (``labship.profiles.report``) to be imported on first use.

Where things are: the env-file grammar in ``labship.profiles.envfile``, secret masking in
``labship.masking``; their names are re-exported here for existing callers.

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
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from labship.errors import ProfileError, UsageError
from labship.masking import MASK, Masker, mask_values, secret_keys
from labship.profiles.envfile import parse_env_file, parse_env_text

if TYPE_CHECKING:
    from labship.profiles.report import (
        EnvReport,
        KeyDifference,
        ProfileReport,
        diff_profiles,
        env_report,
    )

DEFAULT_PROFILE = "dev"
EXAMPLE_NAME = ".env.example"  # every key, no values: committed, copied to make a profile
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


def profile_path(root: Path, name: str) -> Path:
    return root / f".env_{name}"


def list_profiles(root: Path) -> list[str]:
    """Existing profile names; editor backups (``.env_dev~``, ``.env_dev.bak``) and folders
    are not ones. A pipe or a device named like one is: reading it says it is no file."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    names = [
        entry.name[len(".env_") :]
        for entry in entries
        if entry.name.startswith(".env_")
        and _PROFILE_NAME_RE.fullmatch(entry.name[len(".env_") :])
        and not entry.is_dir()
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
    public: Sequence[str] = (),
) -> Profile:
    """Load ``.env_<name>``; fail early, naming every missing variable at once. Its secret
    keys are those declared, and those that look secret unless declared ``public``."""
    path = profile_path(root, name)
    # A folder or a pipe of that name is a profile that cannot be read (65, by
    # parse_env_file), not an unknown one.
    if not _PROFILE_NAME_RE.fullmatch(name) or not os.path.lexists(path):
        raise UsageError(
            f"unknown profile {name!r}: {path} does not exist",
            hint=_missing_hint(root, name, required),
        )
    values = parse_env_file(path)
    missing = missing_required(values, required)
    if missing:
        see = f" (see {EXAMPLE_NAME})" if (root / EXAMPLE_NAME).is_file() else ""
        raise ProfileError(
            f"{path}: missing required variable{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (profile {name!r})",
            hint=f"add {'them' if len(missing) > 1 else 'it'} to {path.name}{see}",
        )
    _check_passable(path, values)
    return Profile(
        name=name, path=path, values=values, secret_keys=secret_keys(values, secret, public)
    )


# The kernel's limit for one "KEY=value" string in a process's environment (Linux's
# MAX_ARG_STRLEN, 32 pages); a larger one fails the job's start with E2BIG.
MAX_VARIABLE_BYTES = 32 * 4096


def _check_passable(path: Path, values: Mapping[str, str]) -> None:
    """Refuse, naming the key (never the value), what no process environment can hold."""
    for key, value in values.items():
        if "\0" in value:
            raise ProfileError(
                f"{path}: {key} holds a NUL byte, which no process environment can carry",
                hint=f"remove it from {path.name}",
            )
        size = len(key.encode()) + 1 + len(value.encode())
        if size >= MAX_VARIABLE_BYTES:
            raise ProfileError(
                f"{path}: {key} is {size} bytes, over the kernel's limit of "
                f"{MAX_VARIABLE_BYTES // 1024} KiB for one variable",
                hint="put the data in a file and the file's path in the variable",
            )


def _missing_hint(root: Path, name: str, required: Sequence[str]) -> str:
    """A typo gets "did you mean"; a profile not made yet, how to make it."""
    import difflib

    existing = list_profiles(root)
    here = f"profiles here: {', '.join(existing)}" if existing else f"no profiles in {root}"
    usual = [n for n in (DEFAULT_PROFILE, "prod") if n not in existing]
    # Never the name typed: "did you mean 'prod'?" for a missing prod says nothing.
    candidates = [n for n in (*existing, *usual) if n != name]
    close = difflib.get_close_matches(name, candidates, n=1)
    if close and close[0] in existing:
        return f"did you mean {close[0]!r}? {here}"
    if close:  # a typo of a profile not made yet: how to make that one
        return f"did you mean {close[0]!r}? {creation_hint(root, close[0], required)} ({here})"
    if not _PROFILE_NAME_RE.fullmatch(name):
        return here
    return f"{creation_hint(root, name, required)} ({here})"


def creation_hint(root: Path, name: str, keys: Sequence[str]) -> str:
    """How to make profile ``name``: from .env.example where there is one, private."""
    env = profile_path(root, name).name
    fill = f", then set {', '.join(dict.fromkeys(keys))} in it" if keys else ""
    if (root / EXAMPLE_NAME).is_file():
        return f"make it from {EXAMPLE_NAME}: cp {EXAMPLE_NAME} {env} && chmod 600 {env}{fill}"
    return f"create {env} with mode 600 (touch {env} && chmod 600 {env}){fill}"


def missing_required(values: Mapping[str, str], required: Sequence[str]) -> list[str]:
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


# The report is for `labship env` only: imported when one of its names is first used.
_REPORT_NAMES = frozenset(
    {"EnvReport", "KeyDifference", "ProfileReport", "diff_profiles", "env_report"}
)


def __getattr__(name: str) -> Any:
    if name not in _REPORT_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module("labship.profiles.report"), name)
    globals()[name] = value
    return value


__all__ = [
    "BASE_VARIABLES",
    "DEFAULT_PATH",
    "DEFAULT_PROFILE",
    "EXAMPLE_NAME",
    "MASK",
    "EnvReport",
    "KeyDifference",
    "Masker",
    "Profile",
    "ProfileReport",
    "creation_hint",
    "diff_profiles",
    "env_report",
    "job_environment",
    "list_profiles",
    "load_profile",
    "missing_required",
    "parse_env_file",
    "parse_env_text",
    "profile_path",
    "secret_values",
]
