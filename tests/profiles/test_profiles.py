"""Profiles: the env-file grammar, loading, a job's environment, masking and the report."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labship.errors import ProfileError, UsageError
from labship.profiles import (
    BASE_VARIABLES,
    EnvReport,
    KeyDifference,
    Profile,
    diff_profiles,
    env_report,
    job_environment,
    list_profiles,
    load_profile,
    parse_env_file,
    parse_env_text,
    profile_path,
    secret_values,
)

SECRET = "Sup3r-S3cret!pw"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def profile(name: str, values: dict[str, str], secret: tuple[str, ...] = ()) -> Profile:
    return Profile(
        name=name, path=Path(f".env_{name}"), values=values, secret_keys=frozenset(secret)
    )


# --------------------------------------------------------------------------- grammar

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
        pytest.skip("docker-compose 1.29 (python-dotenv) is not installed")
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


# --------------------------------------------------------------------------- profiles


def test_profile_path(tmp_path: Path) -> None:
    assert profile_path(tmp_path, "prod") == tmp_path / ".env_prod"


def test_list_profiles(tmp_path: Path) -> None:
    for name in (".env_prod", ".env_dev", ".env_ci-2", ".env.example", ".env", ".env_"):
        write(tmp_path / name, "A=1\n")
    for backup in (".env_dev.bak", ".env_dev~", ".env_dev.swp", "env_x"):
        write(tmp_path / backup, "A=1\n")
    (tmp_path / ".env_adir").mkdir()
    assert list_profiles(tmp_path) == ["ci-2", "dev", "prod"]
    assert list_profiles(tmp_path / "missing") == []


def test_load_profile(tmp_path: Path) -> None:
    write(tmp_path / ".env_dev", f"DB=db\nDB_PASSWORD={SECRET}\n")
    loaded = load_profile(tmp_path, "dev", required=["DB"], secret=["DB_PASSWORD", "API_KEY"])
    assert loaded.name == "dev"
    assert loaded.path == tmp_path / ".env_dev"
    assert loaded.values == {"DB": "db", "DB_PASSWORD": SECRET}
    assert loaded.secret_keys == frozenset({"DB_PASSWORD", "API_KEY"})


def test_unknown_profile_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path / ".env_dev", "A=1\n")
    write(tmp_path / ".env_prod", "A=1\n")
    with pytest.raises(UsageError) as info:
        load_profile(tmp_path, "staging")
    message = str(info.value)
    assert "'staging'" in message
    assert str(tmp_path / ".env_staging") in message
    assert "dev, prod" in message
    assert info.value.exit_code == 64
    assert "\n" not in message


def test_unknown_profile_without_any_profile(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"create \.env_dev"):
        load_profile(tmp_path, "dev")


def test_profile_names_cannot_escape_the_root(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / ".env_x").mkdir(parents=True)
    write(tmp_path / "outside", "A=1\n")
    write(root / ".env_", "A=1\n")
    assert (root / ".env_x/../../outside").is_file()  # so only the name check stops it
    for name in ("x/../../outside", ""):
        with pytest.raises(UsageError, match="unknown profile"):
            load_profile(root, name)


def test_missing_required_names_all_of_them(tmp_path: Path) -> None:
    write(tmp_path / ".env_prod", f"A=1\nB=\nPASSWORD={SECRET}\n")
    write(tmp_path / ".env.example", "A=\nB=\nC=\n")
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path, "prod", required=["A", "B", "C", "C"], secret=["PASSWORD"])
    message = str(info.value)
    assert str(tmp_path / ".env_prod") in message
    assert "variables B, C " in message
    assert "(see .env.example)" in message
    assert "add them to .env_prod" in message
    assert SECRET not in message
    assert info.value.exit_code == 65


def test_missing_one_required_without_example(tmp_path: Path) -> None:
    write(tmp_path / ".env_dev", "A=1\n")
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path, "dev", required=["TOKEN"])
    assert "variable TOKEN " in str(info.value)
    assert str(info.value).endswith("; add it to .env_dev")


def test_masked_hides_secrets_and_where_they_were_interpolated() -> None:
    p = profile(
        "prod",
        {"USER_NAME": "svc", "PASSWORD": SECRET, "URL": f"pg://svc:{SECRET}@db", "EMPTY": ""},
        secret=("PASSWORD", "EMPTY"),
    )
    assert p.masked() == {
        "USER_NAME": "svc",
        "PASSWORD": "****",
        "URL": "pg://svc:****@db",
        "EMPTY": "****",
    }
    assert SECRET not in repr(p)
    assert "svc" in repr(p)


# --------------------------------------------------------------------------- job environment

CALLER = {
    "PATH": "/caller/bin:/usr/bin",
    "HOME": "/home/ann",
    "USER": "ann",
    "LANG": "en_US.UTF-8",
    "TERM": "xterm",
    "HTTPS_PROXY": "http://proxy:3128",
    "https_proxy": "http://proxy:3128",
    "SSL_CERT_FILE": "/etc/corp-ca.pem",
    "AWS_SECRET_ACCESS_KEY": "caller-aws-secret",
    "PYTHONPATH": "/caller/site",
    "VIRTUAL_ENV": "/caller/venv",
    "CONDA_PREFIX": "/opt/conda",
    "PIP_CERT": "/etc/pip.pem",
}


def test_job_gets_exactly_base_profile_and_extra() -> None:
    p = profile("dev", {"DB": "db", "TZ": "UTC"})
    env = job_environment(p, extra={"LABSHIP_PROFILE": "dev"}, caller_env=CALLER)
    assert env == {
        "PATH": "/caller/bin:/usr/bin",
        "HOME": "/home/ann",
        "USER": "ann",
        "LANG": "en_US.UTF-8",
        "TERM": "xterm",
        "HTTPS_PROXY": "http://proxy:3128",
        "https_proxy": "http://proxy:3128",
        "SSL_CERT_FILE": "/etc/corp-ca.pem",
        "DB": "db",
        "TZ": "UTC",
        "LABSHIP_PROFILE": "dev",
    }


def test_every_base_variable_passes_through_and_nothing_else() -> None:
    caller = {name: f"v-{name}" for name in BASE_VARIABLES} | {"OTHER": "x", "AWS_PROFILE": "y"}
    env = job_environment(profile("dev", {}), caller_env=caller)
    assert env == {name: f"v-{name}" for name in BASE_VARIABLES}


@pytest.mark.parametrize("caller", [{}, {"PATH": ""}])
def test_path_defaults_when_caller_has_none(caller: dict[str, str]) -> None:
    assert job_environment(profile("dev", {}), caller_env=caller) == {
        "PATH": "/usr/local/bin:/usr/bin:/bin"
    }


def test_precedence_base_then_profile_then_extra_then_path_prefix() -> None:
    p = profile("dev", {"HOME": "/profile/home", "PATH": "/profile/bin", "X": "profile"})
    env = job_environment(
        p,
        extra={"X": "extra", "VIRTUAL_ENV": "/p/.venv"},
        caller_env=CALLER,
        path_prefix=["/p/.venv/bin", "/p/bin"],
    )
    assert env["HOME"] == "/profile/home"
    assert env["X"] == "extra"
    assert env["VIRTUAL_ENV"] == "/p/.venv"
    assert env["PATH"] == os.pathsep.join(["/p/.venv/bin", "/p/bin", "/profile/bin"])


def test_defaults_to_os_environ_without_leaking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-the-shell")
    monkeypatch.setenv("PATH", "/from/os/environ")
    env = job_environment(profile("dev", {"A": "1"}))
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["PATH"] == "/from/os/environ"
    assert env["A"] == "1"


def test_secret_values() -> None:
    p = profile(
        "p", {"A": "abc", "B": "abcdef", "C": "abc", "D": "", "E": "shown"}, ("A", "B", "C", "D")
    )
    assert secret_values(p) == ["abcdef", "abc"]


# --------------------------------------------------------------------------- diff and report


def test_diff_profiles() -> None:
    dev = profile("dev", {"A": "1", "B": "2", "S": "dev-pw", "T": "same"}, ("S", "T"))
    prod = profile("prod", {"A": "1", "B": "3", "S": "prod-pw", "T": "same", "C": "4"}, ("S", "T"))
    ci = profile("ci", {"A": "1", "B": "2", "S": "dev-pw", "T": "same"}, ("S", "T"))
    assert diff_profiles([dev, prod, ci]) == [
        KeyDifference("B", ("dev", "prod", "ci"), (), values_differ=True, secret=False),
        KeyDifference("C", ("prod",), ("dev", "ci"), values_differ=False, secret=False),
        KeyDifference("S", ("dev", "prod", "ci"), (), values_differ=True, secret=True),
    ]
    assert diff_profiles([dev]) == []
    assert diff_profiles([]) == []


def test_difference_never_holds_a_value() -> None:
    diff = diff_profiles([profile("a", {"S": SECRET}, ("S",)), profile("b", {"S": "x"}, ("S",))])
    assert SECRET not in repr(diff)
    assert SECRET not in json.dumps([d.to_json() for d in diff])
    assert diff[0].describe() == "S: values differ"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / ".env_dev", f"DB_HOST=localhost\nDB_PASSWORD=devpw-{SECRET}\nDEBUG=1\n")
    write(
        tmp_path / ".env_prod",
        f"DB_HOST=db.prod\nDB_PASSWORD={SECRET}\nURL=pg://u:{SECRET}@db.prod\n",
    )
    write(tmp_path / ".env_broken", f"DB_HOST=x\nDB_PASSWORD={SECRET}\n{SECRET}\n")
    return tmp_path


def report(root: Path) -> EnvReport:
    return env_report(root, required=["DB_HOST", "DB_PASSWORD", "DEBUG"], secret=["DB_PASSWORD"])


def test_env_report_json(project: Path) -> None:
    data = report(project).to_json()
    json.dumps(data)  # serialisable as is
    assert data["ok"] is False
    by_name = {p["name"]: p for p in data["profiles"]}
    assert list(by_name) == ["broken", "dev", "prod"]
    dev, prod, broken = by_name["dev"], by_name["prod"], by_name["broken"]
    assert dev["ok"] is True
    assert dev["default"] is True
    assert dev["values"] == {"DB_HOST": "localhost", "DB_PASSWORD": "****", "DEBUG": "1"}
    assert dev["secret_keys"] == ["DB_PASSWORD"]
    assert prod["missing"] == ["DEBUG"]
    assert prod["values"]["URL"] == "pg://u:****@db.prod"
    assert broken["error"].startswith(f"{project / '.env_broken'}:3: ")
    assert broken["values"] == {}
    diffs = {d["key"]: d for d in data["differences"]}
    assert diffs["DB_HOST"]["values_differ"] is True
    assert diffs["DEBUG"]["missing_from"] == ["prod"]
    assert diffs["DB_PASSWORD"] == {
        "key": "DB_PASSWORD",
        "present_in": ["dev", "prod"],
        "missing_from": [],
        "values_differ": True,
        "secret": True,
    }


def test_env_report_text(project: Path) -> None:
    text = report(project).to_text()
    lines = text.splitlines()
    assert lines[0].split() == ["KEY", "broken", "dev", "(default)", "prod"]
    row = {line.split()[0]: line.split()[1:] for line in lines[1:5]}
    assert row["DB_HOST"] == ["?", "localhost", "db.prod"]
    assert row["DB_PASSWORD"] == ["(secret)", "?", "****", "****"]
    assert row["DEBUG"] == ["?", "1", "MISSING"]
    assert "prod: missing required DEBUG" in text
    assert "broken: error: " in text
    assert "DEBUG: missing from prod" in text


def test_secret_never_appears_in_any_report_output(project: Path) -> None:
    r = report(project)
    outputs = [r.to_text(), json.dumps(r.to_json()), repr(r)]
    for out in outputs:
        assert SECRET not in out
        assert "devpw" not in out  # the whole dev secret, prefix included, is masked


def test_a_prod_secret_is_masked_in_every_profile(tmp_path: Path) -> None:
    write(tmp_path / ".env_prod", f"TOKEN={SECRET}\n")
    write(tmp_path / ".env_dev", f"NOTE=copied {SECRET} here\n")
    r = env_report(tmp_path, secret=["TOKEN"])
    assert SECRET not in r.to_text()
    assert r.to_json()["profiles"][0]["values"] == {"NOTE": "copied **** here"}


def test_report_cells_are_one_line_and_short(tmp_path: Path) -> None:
    write(tmp_path / ".env_dev", 'MULTI="a\nb"\nLONG=' + "x" * 100 + "\nEMPTY=\n")
    text = env_report(tmp_path).to_text()
    assert "a\\nb" in text
    assert "x" * 31 + "…" in text
    assert "x" * 32 not in text
    assert '""' in text
    assert len(text.splitlines()) == 4


def test_report_without_profiles(tmp_path: Path) -> None:
    r = env_report(tmp_path, required=["A"])
    assert r.ok is False
    assert "create .env_dev" in r.to_text()
    assert r.to_json()["profiles"] == []


# --------------------------------------------------------------------------- import cost


def test_import_pulls_in_only_the_standard_library() -> None:
    code = (
        "import sys; before = set(sys.modules); import labship.profiles; "
        "new = set(sys.modules) - before; "
        "stdlib = sys.stdlib_module_names; "
        "print(' '.join(sorted(m for m in new if m.split('.')[0] not in stdlib)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(out.stdout.split()) <= {
        "labship",
        "labship.errors",
        "labship.masking",
        "labship.profiles",
    }
