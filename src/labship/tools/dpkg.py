"""System packages (``[docker] system_packages``): installed in images by apt; on the
local runtime only checked, since labship does not run apt on a user's machine."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence


def missing(packages: Sequence[str]) -> list[str] | None:
    """The Debian packages not installed here; None where dpkg cannot tell (not Debian)."""
    if not packages:
        return []
    dpkg = shutil.which("dpkg-query")
    if dpkg is None:
        return None
    out = subprocess.run(
        [dpkg, "-W", "-f=${Package} ${db:Status-Status}\\n", *packages],
        capture_output=True,
        text=True,
    )
    installed = {
        line.split()[0].split(":")[0]
        for line in out.stdout.splitlines()
        if line.endswith(" installed")
    }
    return [p for p in packages if p not in installed]


def install_hint(packages: Sequence[str]) -> str:
    return f"sudo apt-get install {' '.join(packages)}"
