"""One error hierarchy. Every user-facing failure is a ``LabshipError``.

The CLI prints ``str(error)`` as one line (what, where, what to do) and exits with
``error.exit_code``. Codes follow sysexits(3) so they rarely collide with a job's own
exit code, which ``labship run`` passes through unchanged.

| code | class                | meaning                                              |
|------|----------------------|------------------------------------------------------|
| 64   | UsageError           | bad command line (unknown job, unknown profile, ...) |
| 65   | SpecError            | environment.yml / requirements.txt cannot be used    |
| 65   | ProfileError         | an env file is malformed, or variables are missing   |
| 65   | ImportCheckError     | a direct dependency does not import in its new env   |
| 65   | CondaPackageError    | a conda package is unknown, unsatisfiable or corrupt |
| 66   | NotAProjectError     | no labship.toml here or above                        |
| 67   | AuthError            | a registry refused the login (or needs one)          |
| 69   | RuntimeUnavailable   | Docker missing or down, a registry down or unknown   |
| 69   | PythonNotFound       | no interpreter on the machine for the project        |
| 69   | ChannelUnavailable   | a conda channel does not answer                      |
| 70   | ToolError            | uv / docker / jupyter failed; carries its message    |
| 73   | ConflictError        | would overwrite a file labship did not write         |
| 74   | FileWriteError       | a file cannot be written (read-only, disk full, ...) |
| 75   | PortInUse            | the lab port is taken                                |
| 76   | ResolutionError      | unknown package, unsatisfiable pins, no wheel        |
| 77   | StaleLockError       | the lock does not match the spec (``lock --check``)  |
| 78   | ConfigError          | labship.toml is malformed or inconsistent            |
| 130  | Interrupted          | stopped by Ctrl-C                                    |

``labship doctor`` exits 69 when something the project needs is missing.
"""

from __future__ import annotations


class LabshipError(Exception):
    """Root of every error labship raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(LabshipError):
    exit_code = 64


class SpecError(LabshipError):
    exit_code = 65


class ProfileError(LabshipError):
    exit_code = 65


class ImportCheckError(LabshipError):
    """The locked set installs but does not work: its fix is in the project's inputs
    (a pin in the spec, [docker] system_packages, [check] skip_imports), as for 65's other
    errors. One line of what, then one line per package."""

    exit_code = 65


class CondaPackageError(LabshipError):
    """A native (conda) package the project asks for cannot be used: no such package in
    its channels, pins no record satisfies, or an archive whose sha256 is not the lock's."""

    exit_code = 65


class NotAProjectError(LabshipError):
    exit_code = 66


class AuthError(LabshipError):
    """sysexits' EX_NOUSER: the registry does not accept who we are (docker's login)."""

    exit_code = 67


class RuntimeUnavailable(LabshipError):
    exit_code = 69


class PythonNotFound(LabshipError):
    exit_code = 69


class ChannelUnavailable(LabshipError):
    """A conda channel (labship.toml [conda] channels, or the spec's) does not answer."""

    exit_code = 69


class ToolError(LabshipError):
    exit_code = 70


class ConflictError(LabshipError):
    exit_code = 73


class FileWriteError(LabshipError):
    exit_code = 74


class PortInUse(LabshipError):
    exit_code = 75


class ResolutionError(LabshipError):
    exit_code = 76


class StaleLockError(LabshipError):
    exit_code = 77


class ConfigError(LabshipError):
    exit_code = 78


class Interrupted(LabshipError):
    exit_code = 130


__all__ = [
    "AuthError",
    "ChannelUnavailable",
    "CondaPackageError",
    "ConfigError",
    "ConflictError",
    "FileWriteError",
    "ImportCheckError",
    "Interrupted",
    "LabshipError",
    "NotAProjectError",
    "PortInUse",
    "ProfileError",
    "PythonNotFound",
    "ResolutionError",
    "RuntimeUnavailable",
    "SpecError",
    "StaleLockError",
    "ToolError",
    "UsageError",
]
