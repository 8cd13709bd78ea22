"""Secret masking: a secret value never reaches what labship prints."""

from __future__ import annotations

import time

import pytest

from labship.masking import MASK, Masker, looks_secret, mask_values, secret_keys

SECRET = "Sup3r-S3cret!pw"


def test_masker_longest_first() -> None:
    mask = Masker(["abc", "abcdef"])
    assert mask("x abcdef y abc z") == "x **** y **** z"


def test_masker_masks_short_secrets_and_ignores_empty() -> None:
    assert Masker(["", "7"])("a7b77") == "a****b********"
    assert Masker([""])("unchanged") == "unchanged"
    assert Masker([])("unchanged") == "unchanged"


def test_masker_treats_secrets_literally() -> None:
    assert Masker(["a.b*(c"])("xa.b*(c axb*(c") == "x**** axb*(c"


def test_masker_masks_each_line_of_a_multiline_secret() -> None:
    key = "-----BEGIN KEY-----\nMIIEabc\n  \n-----END KEY-----"
    mask = Masker([key])
    assert mask(f"k={key}!") == "k=****!"
    assert "MIIEabc" not in mask("line: MIIEabc")
    assert mask("a  b\n") == "a  b\n"  # blank lines of the secret are not needles


def test_masker_repr_hides_secrets() -> None:
    assert SECRET not in repr(Masker([SECRET]))


def test_mask_values_hides_secret_keys_whole_and_secrets_inside_other_values() -> None:
    values = {"USER_NAME": "svc", "PASSWORD": SECRET, "URL": f"pg://svc:{SECRET}@db", "E": ""}
    assert mask_values(values, {"PASSWORD", "E"}) == {
        "USER_NAME": "svc",
        "PASSWORD": MASK,
        "URL": "pg://svc:****@db",
        "E": MASK,  # even empty: whether a secret is set is not shown either
    }


def test_mask_values_with_a_wider_masker() -> None:
    """The report masks prod's secret where it was pasted into dev, a profile without it."""
    dev = {"NOTE": f"copied {SECRET} here", "TOKEN": "dev-token"}
    assert mask_values(dev, {"TOKEN"}, Masker([SECRET, "dev-token"])) == {
        "NOTE": "copied **** here",
        "TOKEN": MASK,
    }
    assert mask_values(dev, {"TOKEN"}) == {"NOTE": dev["NOTE"], "TOKEN": MASK}


def test_url_credentials_are_hidden_wherever_they_appear() -> None:
    from labship.masking import hide_url_credentials as hide

    assert (
        hide("url = https://user:s3cr3t@host/simple x") == "url = https://user:****@host/simple x"
    )
    assert hide("git+https://ghp_T0KEN@github.com/a/b.git") == "git+https://****@github.com/a/b.git"
    # an unencoded '@' in the password, quoted by a tool, upper-case scheme
    assert hide("`https://u:p@ss@h.example/s/`") == "`https://u:****@h.example/s/`"
    assert hide("HTTP://U:P@H/") == "HTTP://U:****@H/"
    for untouched in ("https://pypi.org/simple", "https://h/p?a=b@c", "mail me@x.org"):
        assert hide(untouched) == untouched


def test_a_password_before_a_host_is_hidden_without_a_scheme_too() -> None:
    from labship.masking import hide_url_credentials as hide

    assert hide("'user:s3cr3t@host:5000/team/x' is not") == "'user:****@host:5000/team/x' is not"
    assert hide("to u:p@ss@registry.example/t") == "to u:****@registry.example/t"
    assert hide("postgres://u:pw@db/x and u:pw@db") == "postgres://u:****@db/x and u:****@db"
    digest = "python:3.11@sha256:" + "a" * 64  # a tag and a digest: no credential
    for untouched in (digest, "git@github.com:org/repo.git", "me@x.org", "at 10:30 @ home"):
        assert hide(untouched) == untouched


def test_printed_values_hide_url_credentials_whatever_the_key() -> None:
    dsn = {"SENTRY_DSN": "https://k3y@o1.ingest.example/1", "REG": "u:pw@h:5000/t"}
    assert mask_values(dsn, set()) == {
        "SENTRY_DSN": "https://****@o1.ingest.example/1",
        "REG": "u:****@h:5000/t",
    }


def test_console_hides_url_credentials_in_every_line() -> None:
    import io

    from labship.console import Console

    stream = io.StringIO()
    console = Console(stream=stream, verbose=True)
    console.error("cannot reach https://user:s3cr3t@host/simple")
    console.tool_line("error: Failed to fetch `https://tok3n@host/six/`")
    assert "s3cr3t" not in stream.getvalue() and "tok3n" not in stream.getvalue()
    assert "https://user:****@host/simple" in stream.getvalue()


@pytest.mark.parametrize(
    "key",
    [
        "API_TOKEN",
        "MY_SERVICE_PASSWORD",
        "DB_PASS",
        "db_pwd",
        "GHTOKEN",
        "CLIENTSECRET",
        "AWS_SECRET_ACCESS_KEY",
        "STRIPE_API_KEY",
        "APIKEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "SSH.PASSPHRASE",
        "BASIC-AUTH",
    ],
)
def test_names_that_look_secret(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize("key", ["GREETING", "DB_HOST", "RANDOM_SEED", "KEYBOARD", "MONKEY"])
def test_names_that_do_not(key: str) -> None:
    assert not looks_secret(key, "some value")


@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("postgres://app:s3cret@db.internal:5432/app", True),
        ("jdbc:mysql://u:p@h/x", True),
        ("host=db user=app password=s3cret", True),
        ("postgres://db.internal/app", False),
        ("https://token@github.com/org/repo", False),  # no password: masked if declared
        ("https://example.com/a:b@c", False),  # ':' and '@' in the path, not userinfo
    ],
)
def test_a_url_or_dsn_with_a_password_is_secret_whatever_its_name(value: str, secret: bool) -> None:
    assert looks_secret("DATABASE_URL", value) is secret


def test_declared_secret_wins_and_public_is_the_exception() -> None:
    values = {"SORT_KEY": "name", "API_TOKEN": "t", "PLAIN": "p", "DB_URL": "pg://u:pw@h/d"}
    assert secret_keys(values) == {"SORT_KEY", "API_TOKEN", "DB_URL"}
    assert secret_keys(values, ["PLAIN"], ["SORT_KEY"]) == {"API_TOKEN", "DB_URL", "PLAIN"}
    assert secret_keys(values, ["API_TOKEN"], ["API_TOKEN"]) >= {"API_TOKEN"}


def test_deciding_is_linear_on_hostile_values() -> None:
    started = time.monotonic()
    for value in ("a" * 200_000, "://:" + "a" * 200_000, "x://" * 50_000):
        looks_secret("X", value)
    assert time.monotonic() - started < 1
