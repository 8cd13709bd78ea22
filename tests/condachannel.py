"""A local conda channel of real packages, built offline for the tests.

``liblabfoo`` 1.0 and 2.0 (a shared library, ``labfoo_version()`` returns 10 or 20,
compiled here with gcc), ``unixodbc`` (a name the spec layer calls native), ``labtool``
0.3 (a program linked against liblabfoo, depending on ``liblabfoo >=2``, with
``labtool-config``, a script that prints its prefix: a ``.tar.bz2`` with a prefix
placeholder), made by py-rattler-build's ``assemble_package`` and indexed by
``rattler.index.index_fs``. Served from the folder (``file://``) or by
``python -m http.server`` on 127.0.0.1.

rattler is only ever called in a child process (``python tests/condachannel.py DIR``),
as labship itself does: its runtime can abort the interpreter while it finalises.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
LIB_C = "int labfoo_version(void) { return %d; }\n"
TOOL_C = """\
#include <stdio.h>
int labfoo_version(void);
int main(int argc, char **argv) {
    printf("labtool %s, liblabfoo %d\\n", argc > 1 ? argv[1] : "-", labfoo_version());
    return 0;
}
"""


def build_channel(channel: Path) -> Path:
    """Build the channel in a child process; returns ``channel``."""
    subprocess.run([sys.executable, __file__, str(channel)], check=True, timeout=300)
    return channel


def _build(channel: Path) -> None:
    import asyncio

    import rattler
    from rattler_build import ArchiveType, assemble_package

    work = channel.parent / f"{channel.name}-work"
    out = channel / "linux-64"
    out.mkdir(parents=True, exist_ok=True)
    (channel / "noarch").mkdir(exist_ok=True)
    stamp = __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__("datetime").UTC)
    for version, number in (("1.0", 10), ("2.0", 20)):
        stage = work / f"liblabfoo-{version}"
        (stage / "lib").mkdir(parents=True)
        source = work / f"labfoo-{version}.c"
        source.write_text(LIB_C % number)
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-o", str(stage / "lib" / "liblabfoo.so"), str(source)],
            check=True,
        )
        assemble_package(
            name="liblabfoo",
            version=version,
            target_platform="linux-64",
            build_string="h1234_0",
            output_dir=str(out),
            files_dir=str(stage),
            timestamp=stamp,
            license="MIT",
        )
    # Two Pythons and a package that needs one: the solve must take the project's.
    for python in ("3.10.0", "3.11.0"):
        stage = work / f"python-{python}"
        stage.mkdir(parents=True)
        (stage / f"python-{python}.txt").write_text("a stand-in, no interpreter\n")
        assemble_package(
            name="python",
            version=python,
            target_platform="linux-64",
            build_string="h1234_0",
            output_dir=str(out),
            files_dir=str(stage),
            timestamp=stamp,
        )
    stage = work / "labpy"
    stage.mkdir(parents=True)
    (stage / "labpy.txt").write_text("needs python\n")
    assemble_package(
        name="labpy",
        version="1.0",
        target_platform="linux-64",
        build_string="h1234_0",
        output_dir=str(out),
        files_dir=str(stage),
        depends=["python >=3.10"],
        timestamp=stamp,
    )
    stage = work / "unixodbc"  # a name the spec layer knows as native (conda-only)
    (stage / "lib").mkdir(parents=True)
    (work / "odbc.c").write_text("int SQLAllocHandle(void) { return 0; }\n")
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(stage / "lib" / "libodbc.so.2"), work / "odbc.c"],
        check=True,
    )
    assemble_package(
        name="unixodbc",
        version="2.3.12",
        target_platform="linux-64",
        build_string="h1234_0",
        output_dir=str(out),
        files_dir=str(stage),
        timestamp=stamp,
        license="LGPL-2.1",
    )
    stage = work / "labtool"
    (stage / "bin").mkdir(parents=True)
    (work / "labtool.c").write_text(TOOL_C)
    # A script that names its own prefix, as conda packages' config scripts do (the
    # placeholder is conda-build's; installing patches the real prefix in).
    config = stage / "bin" / "labtool-config"
    config.write_text(f"#!/bin/sh\necho {PLACEHOLDER}\n")
    config.chmod(0o755)
    lib2 = work / "liblabfoo-2.0" / "lib"
    subprocess.run(
        [
            "gcc",
            "-o",
            stage / "bin" / "labtool",
            work / "labtool.c",
            f"-L{lib2}",
            "-llabfoo",
            "-Wl,-rpath,$ORIGIN/../lib",
        ],
        check=True,
    )
    assemble_package(
        name="labtool",
        version="0.3",
        target_platform="linux-64",
        build_string="h1234_0",
        output_dir=str(out),
        files_dir=str(stage),
        depends=["liblabfoo >=2"],
        timestamp=stamp,
        license="MIT",
        archive_type=ArchiveType.TarBz2,  # the older format: rewritten below, and tested
    )
    _mark_placeholder(out / "labtool-0.3-h1234_0.tar.bz2", "bin/labtool-config")

    async def index() -> None:
        await rattler.index.index_fs(channel, target_platform=rattler.Platform("linux-64"))
        await rattler.index.index_fs(channel, target_platform=rattler.Platform("noarch"))

    asyncio.run(index())


def _mark_placeholder(archive: Path, rel: str) -> None:
    """Record ``rel`` as a text file holding the prefix placeholder in ``info/paths.json``
    (what conda-build writes; assemble_package leaves it out)."""
    import json
    import tarfile

    unpacked = archive.parent / f"{archive.name}.d"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="tar")
    paths_json = unpacked / "info" / "paths.json"
    data = json.loads(paths_json.read_text())
    for entry in data["paths"]:
        if entry["_path"] == rel:
            entry.update(prefix_placeholder=PLACEHOLDER, file_mode="text")
    paths_json.write_text(json.dumps(data, indent=2))
    (unpacked / "info" / "has_prefix").write_text(f"{PLACEHOLDER} text {rel}\n")
    with tarfile.open(archive, "w:bz2") as tar:
        for path in sorted(unpacked.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(unpacked)), recursive=False)
    shutil.rmtree(unpacked)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(channel: Path) -> Iterator[str]:
    """The channel over HTTP on 127.0.0.1 while the block runs: its URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=channel,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    _build(Path(sys.argv[1]))
    sys.stdout.flush()
    os._exit(0)
