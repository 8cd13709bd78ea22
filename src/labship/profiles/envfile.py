r"""The portable env-file grammar: what a ``.env_<name>`` file may say.

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

Standard library only: ``labship run`` reads a profile on every call.
"""

from __future__ import annotations

import re
from pathlib import Path

from labship.errors import ProfileError
from labship.inputs import read_bytes

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_EXPORT_RE = re.compile(r"export[ \t]+")
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


def read_env_bytes(path: Path) -> bytes:
    """An env file's bytes; one that cannot be read (missing, a folder, a pipe) is 65."""
    try:
        return read_bytes(path)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot be read ({exc.strerror})") from None


def parse_env_file(path: Path) -> dict[str, str]:
    """Read one env file; errors carry ``path:line`` so the user can jump to it."""
    try:
        # CR kept, so CR line breaks the Composes read differently are seen.
        text = read_env_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: is not UTF-8 text", hint="save it as UTF-8") from None
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


__all__ = ["parse_env_file", "parse_env_text"]
