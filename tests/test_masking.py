"""Secret masking: a secret value never reaches what labship prints."""

from __future__ import annotations

from labship.masking import MASK, Masker, mask_values

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


def test_console_hides_url_credentials_in_every_line() -> None:
    import io

    from labship.console import Console

    stream = io.StringIO()
    console = Console(stream=stream, verbose=True)
    console.error("cannot reach https://user:s3cr3t@host/simple")
    console.tool_line("error: Failed to fetch `https://tok3n@host/six/`")
    assert "s3cr3t" not in stream.getvalue() and "tok3n" not in stream.getvalue()
    assert "https://user:****@host/simple" in stream.getvalue()
