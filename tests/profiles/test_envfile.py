"""The env-file grammar: what labship, Compose 1.29 and Compose v2 read alike, and what not."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import string
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profilefixtures import SECRET, write

from helpers import missing
from labship.errors import ProfileError
from labship.profiles.envfile import parse_env_file, parse_env_text

GRAMMAR = [
    # (id, text, expected): constructs labship, Compose 1.29 and Compose v2 read alike.
    ("plain", "A=1", {"A": "1"}),
    ("several lines", "A=1\nB=2\n", {"A": "1", "B": "2"}),
    ("blank lines and comments", "\n# c\n   # indented\n\nA=1\n\n", {"A": "1"}),
    ("empty file", "", {}),
    ("export prefix", "export A=1", {"A": "1"}),
    ("export with tab and indent", "  export\tA=1", {"A": "1"}),
    ("key starting with export", "exportA=1", {"exportA": "1"}),
    ("key named export", "export=1", {"export": "1"}),
    ("blanks around key and value", "  A  =   x y   ", {"A": "x y"}),
    ("tabs around value", "A=\tv\t", {"A": "v"}),
    ("tab inside value", "A=a\tb", {"A": "a\tb"}),
    ("empty value", "A=", {"A": ""}),
    (
        "equals in value",
        "U=postgres://h/db?sslmode=disable",
        {"U": "postgres://h/db?sslmode=disable"},
    ),
    ("inline comment", "A=a b # note", {"A": "a b"}),
    ("two spaces before comment", "A=a  # note", {"A": "a"}),
    ("tab then space before comment", "A=a\t # note", {"A": "a"}),
    ("$ inside a comment", "A=x # costs $5 ${HOME}", {"A": "x"}),
    ("anything inside a comment", "A=x # \u00a0\x1f\t#", {"A": "x"}),
    ("hash without blank is literal", "A=a#b", {"A": "a#b"}),
    ("hash first is literal", "A=#a", {"A": "#a"}),
    ("comment right after = (Compose)", "A= # note", {"A": "# note"}),
    ("unquoted backslash is literal", r"A=C:\temp\n\\x", {"A": "C:\\temp\\n\\\\x"}),
    ("quotes inside unquoted value", 'A=it\'s "x"', {"A": 'it\'s "x"'}),
    ("dots and dashes in key", "a.b-c_D=1", {"a.b-c_D": "1"}),
    ("underscore key", "_=1", {"_": "1"}),
    ("duplicate: last wins", "A=1\nA=2", {"A": "2"}),
    ("crlf line endings", "A=1\r\nB='x'\r\nC=\"y\" # c\r\n", {"A": "1", "B": "x", "C": "y"}),
    ("bom", "\ufeffA=1", {"A": "1"}),
    ("utf-8", "A=héllo ✓ ü", {"A": "héllo ✓ ü"}),
    # double quotes
    ("double quoted", 'A="a b"', {"A": "a b"}),
    ("double quoted keeps blanks", 'A="  a  "', {"A": "  a  "}),
    ("blanks around =, quoted", 'A = "v"', {"A": "v"}),
    ("empty double quoted", 'A=""', {"A": ""}),
    ("escapes", r'A="1\n2\r3\t4\\5\"6"', {"A": '1\n2\r3\t4\\5"6'}),
    ("escaped backslash before n", r'A="a\\n"', {"A": "a\\n"}),
    ("escaped backslash then escaped quote", r'A="a\\\"b"', {"A": 'a\\"b'}),
    ("hash inside double quotes", 'A="a # b"', {"A": "a # b"}),
    ("comment after double quotes", 'A="a#b" # note', {"A": "a#b"}),
    ("comment glued to closing quote", 'A="a"#note', {"A": "a"}),
    ("single quote inside double", 'A="it\'s"', {"A": "it's"}),
    ("non-ASCII blank inside quotes", 'A="a\u00a0b"', {"A": "a\u00a0b"}),
    ("multi-line double", 'A="l1\nl2\n  l3"\nB=2', {"A": "l1\nl2\n  l3", "B": "2"}),
    (
        "multi-line with comment line inside",
        'A="x\n# not a comment\n"',
        {"A": "x\n# not a comment\n"},
    ),
    ("escaped quote spanning lines", 'A="a\\"\nb"', {"A": 'a"\nb'}),
    # single quotes
    ("single quoted", "A='a b'", {"A": "a b"}),
    ("single quoted is literal", r"A='$B $$ \n \" \t \$'", {"A": r"$B $$ \n \" \t \$"}),
    ("windows path in single quotes", r"A='C:\temp\new'", {"A": "C:\\temp\\new"}),
    ("empty single quoted", "A=''", {"A": ""}),
    ("double quote inside single", "A='say \"hi\"'", {"A": 'say "hi"'}),
    ("comment after single quotes", "A='a # b' # c", {"A": "a # b"}),
    (
        "multi-line single",
        "A='-----BEGIN-----\nabc\n-----END-----'",
        {"A": "-----BEGIN-----\nabc\n-----END-----"},
    ),
    ("export + quotes", "export A='x'", {"A": "x"}),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in GRAMMAR], ids=[c[0] for c in GRAMMAR]
)
def test_grammar(text: str, expected: dict[str, str]) -> None:
    assert parse_env_text(text, source="t.env") == expected


# The rows where labship's old grammar, docker-compose 1.29 and Compose v2 disagreed
# (A=va and E= defined earlier, U undefined): each is now refused, naming line 3 and B.
DIFFERENCES = [
    # (id, line, fragment of the message)
    ("bare $NAME", "B=$A", "`$` in an unquoted value"),
    ("$$", "B=cost$$5", "`$` in an unquoted value"),
    ("${NAME} of an earlier key", "B=${A}", "`$` in an unquoted value"),
    ("${NAME} in double quotes", 'B="<${A}>"', "`$` in double quotes"),
    ("\\$ in double quotes", r'B="x\$y"', r"`\$` in double quotes"),
    ("unknown escape \\q", r'B="a\qb"', "backslash escape other than"),
    ("\\a", r'B="\a"', "backslash escape other than"),
    ("\\b", r'B="\b"', "backslash escape other than"),
    ("\\f", r'B="\f"', "backslash escape other than"),
    ("\\v", r'B="\v"', "backslash escape other than"),
    ("\\' in double quotes", r'B="it\'s"', "backslash escape other than"),
    ("\\0 octal", r'B="\0101"', "backslash escape other than"),
    ("\\x hex", r'B="\x41"', "backslash escape other than"),
    ("backslash-newline", 'B="a\\\nb"', "backslash escape other than"),
    ("\\\\ in single quotes", r"B='a\\b'", "in single quotes"),
    ("\\' in single quotes", r"B='it\'s'", "in single quotes"),
    ("final \\ in single quotes", "B='a\\'", "in single quotes"),
    ("${ in single quotes", "B='${A}'", "`${` in single quotes"),
    ("unclosed ${ in single quotes", "B='x${'", "`${` in single quotes"),
    ("${U-d}", "B=${U-d}", "`$` in an unquoted value"),
    ("${E:-d}", "B=${E:-d}", "`$` in an unquoted value"),
    ("${U:-d} (1.29 reads the shell)", "B=${U:-d}", "`$` in an unquoted value"),
    ("lone $", "B=a$", "`$` in an unquoted value"),
    ("double quotes ending in \\\\", r'B="a\\"', "ending in a backslash"),
    ("# after a tab", "B=a\t# note", "`#` right after a tab"),
    ("# after a space then a tab", "B=a \t# note", "`#` right after a tab"),
    ("non-ASCII blank before #", "B=a\u00a0# note", "non-ASCII blank"),
    ("trailing non-ASCII blank", "B=a\u00a0", "non-ASCII blank"),
    ("control character", "B=a\x1f", "control character"),
    ("vertical tab", "B=\x0ba", "control character"),
]


@pytest.mark.parametrize(
    ("line", "fragment"), [c[1:] for c in DIFFERENCES], ids=[c[0] for c in DIFFERENCES]
)
def test_constructs_the_composes_read_differently_are_refused(line: str, fragment: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_env_text(f"A=va\nE=\n{line}\n", source="x/.env_prod")
    message = str(info.value)
    assert message.startswith("x/.env_prod:3: B")  # file:line, then the key
    assert fragment in message
    assert "Compose" in message  # says who reads it differently
    assert info.value.hint  # and what to write instead
    assert "\n" not in message
    assert "va" not in message.replace("vari", "").replace("value", "")  # no value echoed
    assert info.value.exit_code == 65


ERRORS = [
    # (id, text, line, fragment of the message)
    ("key without =", "A=1\nDEBUG", 2, "without `=`"),
    ("not a key=value line", "A=1\n\nhello world", 3, "not a KEY=value line"),
    ("key starting with digit", "1A=x", 1, "not a valid variable name"),
    ("key with space", "MY KEY=x", 1, "not a valid variable name"),
    ("key with non-ASCII blank", "A\u00a0=x", 1, "not a valid variable name"),
    ("empty key", "=x", 1, "not a valid variable name"),
    ("unclosed double quote", 'A=1\nB="abc\nC=2', 2, "double quote is never closed"),
    ("unclosed single quote", "B='abc", 1, "single quote is never closed"),
    ("escaped closing quote leaves it open", 'B="abc\\"', 1, "never closed"),
    ("text after closing quote", 'B="a" b', 1, "unexpected text after the closing quote"),
    ("text after single quote", "B='a'b", 1, "unexpected text after the closing quote"),
    ("line after a multi-line value", 'A="x\ny"\n\nB', 4, "without `=`"),
    ("$ on a later line of a multi-line value", 'A=1\nB="x\n$y"', 2, "B: a `$`"),
    ("lone CR", "A=1\rB=2\n", 1, "carriage return that does not end a line"),
    ("lone CR in a comment", "A=1\n# c\rB=2\n", 2, "carriage return"),
    ("lone CR at the end", "A=1\nB=2\r", 2, "carriage return"),
    ("multi-line double over CRLF", 'A=1\r\nB="x\r\ny"\r\n', 2, "B: a quoted value spans CRLF"),
    ("multi-line single over CRLF", "B='x\r\ny'", 1, "spans CRLF"),
]


@pytest.mark.parametrize(
    ("text", "line", "fragment"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_grammar_errors(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_env_text(text, source="x/.env_dev")
    message = str(info.value)
    assert message.startswith(f"x/.env_dev:{line}: ")
    assert fragment in message
    assert "\n" not in message
    assert info.value.exit_code == 65


def test_bare_key_error_says_the_shell_is_never_read() -> None:
    with pytest.raises(ProfileError, match="never takes values from the shell"):
        parse_env_text("DEBUG", source="s")


def test_dollar_error_says_how_to_write_a_literal_dollar() -> None:
    for text in ("B=$A", 'B="$A"', r'B="\$A"'):
        with pytest.raises(ProfileError) as info:
            parse_env_text(text, source="s")
        assert info.value.hint is not None
        assert "for a literal $ use single quotes: KEY='...$...'" in info.value.hint
    assert parse_env_text("B='$A'", source="s") == {"B": "$A"}


def test_escape_error_says_how_to_write_a_backslash() -> None:
    with pytest.raises(ProfileError) as info:
        parse_env_text(r'P="C:\data"', source="s")
    assert info.value.hint is not None
    assert "write \\\\ for a backslash" in info.value.hint
    assert parse_env_text(r'P="C:\\temp"', source="s") == parse_env_text(r"P='C:\temp'", source="s")


def test_nothing_is_read_from_the_callers_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABSHIP_TEST_FROM_SHELL", "leaked")
    for text in ("A=${LABSHIP_TEST_FROM_SHELL:-d}", "LABSHIP_TEST_FROM_SHELL"):
        with pytest.raises(ProfileError):
            parse_env_text(text, source="s")


def _compose_129_reader() -> list[str] | None:
    """The Python that runs /usr/bin/docker-compose 1.29, if it can import its env reader."""
    exe = shutil.which("docker-compose")
    if exe is None:
        return None
    with open(exe, "rb") as stream:
        first = stream.readline().decode(errors="replace")
    if not first.startswith("#!"):
        return None
    python = first[2:].split()
    probe = subprocess.run(
        [*python, "-c", "from compose.config.environment import env_vars_from_file"],
        capture_output=True,
    )
    return python if probe.returncode == 0 else None


def test_accepted_files_read_the_same_in_docker_compose_129(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every GRAMMAR row through docker-compose 1.29's own env_file reader (python-dotenv)."""
    python = _compose_129_reader()
    if python is None:
        missing("docker-compose 1.29 (python-dotenv) is not installed")
    paths = []
    for i, (_, text, _) in enumerate(GRAMMAR):
        path = tmp_path / f"{i}.env"
        path.write_bytes(text.encode())
        paths.append(str(path))
    code = (
        "import json, sys\n"
        "from compose.config.environment import env_vars_from_file\n"
        "print(json.dumps([env_vars_from_file(p) for p in sys.argv[1:]]))\n"
    )
    monkeypatch.setenv("B", "from-the-shell")  # would show if 1.29 read the shell
    out = subprocess.run([*python, "-c", code, *paths], capture_output=True, text=True, check=True)
    for (name, text, _), seen in zip(GRAMMAR, json.loads(out.stdout), strict=True):
        assert seen == parse_env_text(text, source="t"), name


def test_parse_env_file_keeps_carriage_returns(tmp_path: Path) -> None:
    path = tmp_path / ".env_dev"
    path.write_bytes(b"A=1\r\nB=2\r\n")
    assert parse_env_file(path) == {"A": "1", "B": "2"}
    path.write_bytes(b'A="x\r\ny"\r\n')  # universal newlines would hide the CRLF
    with pytest.raises(ProfileError, match="spans CRLF"):
        parse_env_file(path)
    path.write_bytes(b"A=1\rB=2\n")
    with pytest.raises(ProfileError, match="carriage return"):
        parse_env_file(path)


# A malformed line that holds a secret must not echo it (nor a piece of it).
LEAKY_LINES = [
    ("pasted secret alone", SECRET),
    ("pasted secret alone, name-like", "Sup3rS3cretToken"),
    ("base64-ish secret", "c3VwM3I/c2VjcmV0+==="),
    ("secret as key", f"{SECRET}=x"),
    ("unclosed quote", f'PASSWORD="{SECRET}'),
    ("text after quote", f'PASSWORD="x" {SECRET}'),
    ("$ inside secret", "PASSWORD=pa$Sup3rS3cretTail"),
    ("braced inside secret", "PASSWORD=pa${Sup3rS3cretTail}"),
    ("unsupported form", "PASSWORD=${A:?Sup3rS3cretTail}"),
    ("lone $", f"PASSWORD={SECRET}$"),
]


@pytest.mark.parametrize("line", [c[1] for c in LEAKY_LINES], ids=[c[0] for c in LEAKY_LINES])
def test_errors_never_echo_the_value(line: str) -> None:
    with pytest.raises(ProfileError) as info:
        parse_env_text(f"A=1\n{line}\n", source=".env_prod")
    message = str(info.value)
    assert message.startswith(".env_prod:2: ")
    for piece in (SECRET, "Sup3rS3cret", "c3VwM3I"):
        assert piece not in message


def test_parse_env_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / ".env_dev", "A=1\nB='x\n")
    with pytest.raises(ProfileError, match=rf"^{re.escape(str(path))}:2: "):
        parse_env_file(path)
    assert parse_env_file(write(tmp_path / "ok", "A=1\n")) == {"A": "1"}


def test_parse_env_file_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / ".env_dev"
    path.write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(ProfileError, match="not UTF-8"):
        parse_env_file(path)


def test_parse_env_file_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot be read"):
        parse_env_file(tmp_path / ".env_nope")


# --------------------------------------------------------------------------- properties

# Fast and the same on every run: CI must not fail on an example a laptop never saw.
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None)

# Pieces the grammar gives a meaning to, so random text reaches the parser's deep branches.
_PIECES = st.sampled_from(
    [*"Ab_1= \t#\"'\\${}\n\r\u00a0\x0b\x00\ufeffé", "\r\n", "export ", "${A}"]
)
ENV_TEXT = st.one_of(st.text(), st.lists(_PIECES, max_size=40).map("".join))
KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


@PROPERTY
@given(ENV_TEXT)
def test_any_text_parses_or_is_a_profile_error(text: str) -> None:
    """Whatever a user saves, labship says which line is wrong; it never crashes."""
    try:
        values = parse_env_text(text, source="t.env")
    except ProfileError as exc:
        line = int(str(exc).split(":")[1])
        assert 1 <= line <= text.count("\n") + 1
    else:
        assert all(KEY_RE.fullmatch(key) for key in values)


@PROPERTY
@given(st.binary(max_size=200))
def test_any_file_reads_or_is_a_profile_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.getbasetemp() / ".env_fuzz"
    path.write_bytes(data)
    with contextlib.suppress(ProfileError):
        parse_env_file(path)


# Not `export`: `export =x` is refused (the Composes read an `export` prefix, then no key);
# GRAMMAR covers `export=1`.
_KEY_START = string.ascii_letters + "_"
KEYS = st.builds(
    str.__add__,
    st.sampled_from(_KEY_START),
    st.text(_KEY_START + string.digits + ".-", max_size=12),
).filter(lambda key: key != "export")
_SPECIAL = st.sampled_from(list("\"'\\#$={} \t\n\rx\u00a0\x00\x0bé"))
_ANY_CHAR = st.characters(exclude_categories=("Cs",))  # surrogates are not UTF-8
# No `$` in double quotes, and no final backslash (Compose 1.29 reads `\"` as a quote).
DOUBLE_VALUES = st.text(_ANY_CHAR | _SPECIAL, max_size=20).filter(
    lambda v: "$" not in v and not v.endswith("\\")
)
# Single quotes are literal: no `'`, no CR, no `\\`, no `${`, no final backslash.
SINGLE_VALUES = st.text(_ANY_CHAR | _SPECIAL, max_size=20).filter(
    lambda v: not any(bad in v for bad in ("'", "\r", "\\\\", "${")) and not v.endswith("\\")
)

SINGLE_LINE_VALUES = SINGLE_VALUES.filter(lambda v: "\n" not in v)


def double_quoted(value: str, literal_newlines: bool) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r")
    if not literal_newlines:
        escaped = escaped.replace("\n", "\\n")
    return f'"{escaped}"'


@st.composite
def env_files(draw: st.DrawFn) -> tuple[dict[str, str], str]:
    """Keys and values, and a file that spells each value in quotes, LF or CRLF."""
    crlf = draw(st.booleans())
    values: dict[str, str] = {}
    lines = []
    for key in draw(st.lists(KEYS, unique=True, max_size=5)):
        if draw(st.booleans()):
            value = draw(DOUBLE_VALUES)
            written = double_quoted(value, literal_newlines=not crlf and draw(st.booleans()))
        else:
            # A quoted value may span lines, but not CRLF ones.
            value = draw(SINGLE_LINE_VALUES if crlf else SINGLE_VALUES)
            written = f"'{value}'"
        prefix = draw(st.sampled_from(["", "export ", "  ", "\t"]))
        blank = draw(st.sampled_from(["", " ", "\t"]))
        comment = draw(st.sampled_from(["", " # note", "\t# note", "#glued"]))
        lines.append(f"{prefix}{key}{blank}={blank}{written}{comment}")
        values[key] = value
    eol = "\r\n" if crlf else "\n"
    return values, "".join(line + eol for line in lines)


@settings(PROPERTY, max_examples=150)
@given(env_files())
def test_quoted_values_read_back_unchanged(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[dict[str, str], str]
) -> None:
    values, text = case
    path = tmp_path_factory.getbasetemp() / ".env_roundtrip"
    path.write_bytes(text.encode("utf-8"))
    assert parse_env_file(path) == values
