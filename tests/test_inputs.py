"""labship.inputs: regular files only, read without blocking; parsed trees of bounded
depth, whatever the parser would have done with them."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from labship import inputs


def test_a_regular_file_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"\xef\xbb\xbfa\r\nb\rc\n")
    assert inputs.read_bytes(path) == b"\xef\xbb\xbfa\r\nb\rc\n"
    assert inputs.read_text(path, encoding="utf-8-sig") == "a\r\nb\rc\n"  # line ends kept
    (tmp_path / "link").symlink_to(path)
    assert inputs.read_bytes(tmp_path / "link") == path.read_bytes()


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (os.mkfifo, "not a regular file but a named pipe (FIFO)"),
        (os.mkdir, "Is a directory"),
    ],
)
def test_anything_but_a_regular_file_is_refused_at_once(
    tmp_path: Path, make: Callable[[Path], None], said: str
) -> None:
    """A pipe nobody writes is not waited on (opened without blocking: were it, this test
    would hang until pytest's timeout)."""
    path = tmp_path / "x"
    make(path)
    with pytest.raises(inputs.NotRegularFile) as caught:
        inputs.read_bytes(path)
    assert caught.value.strerror == said and caught.value.filename == str(path)


def test_a_device_is_refused_too() -> None:
    with pytest.raises(OSError, match="device"):
        inputs.read_bytes("/dev/zero")  # endless, were it read


def test_toml_deeper_than_the_limit_is_a_toml_error() -> None:
    depth = inputs.MAX_DEPTH - 1  # the document's table is one level
    assert inputs.load_toml(f"x = {'[' * depth}{']' * depth}")["x"]
    for depth in (inputs.MAX_DEPTH, 5000):
        with pytest.raises(tomllib.TOMLDecodeError, match="nested more than 100 levels"):
            inputs.load_toml(f"x = {'[' * depth}{']' * depth}")


def test_yaml_deeper_than_the_limit_is_a_yaml_error() -> None:
    depth = inputs.MAX_DEPTH - 1
    assert inputs.load_yaml(f"a: {'[' * depth}{']' * depth}") is not None
    for depth in (inputs.MAX_DEPTH, 20000):
        with pytest.raises(yaml.YAMLError, match="nested more than 100 levels"):
            inputs.compose_yaml(f"a: {'[' * depth}{']' * depth}")


def test_yaml_aliases_are_walked_once_and_counted_through() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )  # 9**9 leaves, were each alias walked again
    assert inputs.compose_yaml(laughs) is not None
    chain = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 150))
    with pytest.raises(yaml.YAMLError, match="nested more than 100"):
        inputs.load_yaml(chain)  # each level shallow, the path through the aliases deep
    with pytest.raises(yaml.YAMLError, match="refers to itself"):
        inputs.load_yaml("a: &a [1, *a]\n")


def test_load_yaml_gives_what_safe_load_gives() -> None:
    text = "a: 1\nb: [x, {c: null}]\nd: &d {e: 2}\nf: *d\n"
    assert inputs.load_yaml(text) == yaml.safe_load(text)
    assert inputs.load_yaml("") is None
