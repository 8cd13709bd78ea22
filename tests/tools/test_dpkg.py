"""Against the real dpkg database of this machine."""

from __future__ import annotations

import shutil

import pytest

from labship.tools import dpkg as syspkgs

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian system")


def test_installed_package_is_not_missing() -> None:
    assert syspkgs.missing(["coreutils"]) == []


def test_absent_package_is_named() -> None:
    assert syspkgs.missing(["coreutils", "labship-no-such-package"]) == ["labship-no-such-package"]


def test_hint_is_the_install_command() -> None:
    assert syspkgs.install_hint(["unixodbc", "libpq5"]) == "sudo apt-get install unixodbc libpq5"
