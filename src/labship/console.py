"""What labship says: one place for messages, progress and secret masking.

Messages go to stderr so a job's own stdout stays clean for pipes. Tool output (uv,
docker) is shown live on a terminal and kept quiet in logs unless ``verbose``; every
line passes through the masker first, so a secret value cannot reach the screen; nor can
a credential in a URL (``https://user:token@host``), whoever wrote it.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import TextIO


def _identity(text: str) -> str:
    return text


class Console:
    def __init__(
        self,
        *,
        stream: TextIO | None = None,
        verbose: bool = False,
        quiet: bool = False,
        mask: Callable[[str], str] = _identity,
    ) -> None:
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.quiet = quiet
        self.mask = mask

    @property
    def is_tty(self) -> bool:
        return self.stream.isatty() and os.environ.get("TERM") != "dumb"

    @property
    def shows_progress(self) -> bool:
        """Long work streams its progress on a terminal (or with -v), not into logs."""
        return not self.quiet and (self.verbose or self.is_tty)

    def with_secrets(self, secrets: Iterable[str]) -> Console:
        from labship.masking import Masker

        masker = Masker(secrets)
        outer = self.mask
        return Console(
            stream=self.stream,
            verbose=self.verbose,
            quiet=self.quiet,
            mask=lambda text: masker(outer(text)),
        )

    def say(self, message: str) -> None:
        if not self.quiet:
            self._said(f"labship: {message}")

    def warn(self, message: str) -> None:
        self._said(f"labship: warning: {message}")

    def error(self, message: str) -> None:
        self._said(f"labship: error: {message}")

    def tool_line(self, line: str) -> None:
        """One line of a tool's own output, shown only where progress is shown."""
        if self.shows_progress:
            self._write(line if line.endswith("\n") else line + "\n")

    def _said(self, text: str) -> None:
        """labship's own words: masked first (a cut must not split a secret), then cut."""
        from labship.masking import hide_url_credentials

        self.stream.write(_short(self.mask(hide_url_credentials(text))))
        self.stream.flush()

    def _write(self, text: str) -> None:
        from labship.masking import hide_url_credentials

        self.stream.write(self.mask(hide_url_credentials(text)))
        self.stream.flush()


LINE_LIMIT = 300  # characters a line labship writes aims at (a tool's output goes to a log)
CUT_AT = 500  # the safety net: a longer line is cut, saying so (a few reports run to ~370)


def _short(text: str) -> str:
    """Each line longer than CUT_AT cut, saying so: a message that long is labship's bug,
    and a screenful of it helps no one."""
    lines = []
    for line in text.split("\n"):
        if len(line) > CUT_AT:
            kept = CUT_AT - len(f" [... {len(line)} more characters]")
            line = f"{line[:kept]} [... {len(line) - kept} more characters]"
        lines.append(line)
    return "\n".join(lines) + "\n"


def columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as aligned text columns (the first row is the heading). A cell that
    could move the cursor or break the table (a job name may hold any character
    labship.toml can) is shown escaped."""
    shown = [[_printable(cell) for cell in row] for row in rows]
    widths = [max(len(cell) for cell in col) for col in zip(*shown, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in shown
    )


def _printable(cell: str) -> str:
    return cell if cell.isprintable() else cell.encode("unicode_escape").decode("ascii")
