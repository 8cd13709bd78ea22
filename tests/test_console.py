"""What labship says: masked, and no line longer than CUT_AT."""

from __future__ import annotations

import io

from labship.console import CUT_AT, Console


def test_no_line_is_longer_than_the_limit_and_a_cut_never_splits_a_secret() -> None:
    secret = "s3cr3t-value-" + "q" * 40
    stream = io.StringIO()
    console = Console(stream=stream, mask=lambda text: text.replace(secret, "***"))
    console.error("x" * 470 + secret + " tail")  # unmasked, the secret straddles the limit
    console.warn("short\n" + "y" * 1000)
    lines = stream.getvalue().splitlines()
    assert all(len(line) <= CUT_AT for line in lines)
    assert "s3cr3t" not in stream.getvalue()
    assert lines[0].endswith("*** tail")  # masked first: what remains fits
    assert lines[1] == "labship: warning: short"
    assert lines[2].endswith(" more characters]") and lines[2].startswith("yyy")
