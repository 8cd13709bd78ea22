"""Which wheels fit CPython X.Y on glibc Linux x86_64 (packaging's tags, no network)."""

from __future__ import annotations

import pytest

from labship.locking.wheels import compatible_versions, wheel_fits


@pytest.mark.parametrize(
    ("filename", "fits"),
    [
        ("pandas-2.2.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", True),
        ("pandas-1.3.5-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", False),
        ("six-1.16.0-py2.py3-none-any.whl", True),
        ("cryptography-41.0.0-cp37-abi3-manylinux_2_28_x86_64.whl", True),
        ("numpy-1.26.0-cp311-cp311-musllinux_1_1_x86_64.whl", False),
        ("numpy-1.26.0-cp311-cp311-win_amd64.whl", False),
        ("numpy-1.26.0-cp311-cp311-manylinux_2_17_aarch64.whl", False),
        ("not a wheel.whl", False),
    ],
)
def test_wheel_fits_python_3_11_on_linux_x86_64(filename: str, fits: bool) -> None:
    assert wheel_fits(filename, "3.11") is fits


def test_versions_sort_as_versions_not_strings() -> None:
    files = ["a-1.10-py3-none-any.whl", "a-1.9-py3-none-any.whl", "a-2.0rc1-py3-none-any.whl"]
    files += ["a-3.0-cp39-cp39-manylinux2014_x86_64.whl", "a-3.0.tar.gz"]
    assert compatible_versions(files, "3.11") == ["1.9", "1.10", "2.0rc1"]
