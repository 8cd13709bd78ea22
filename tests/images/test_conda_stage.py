"""The generated Dockerfile with [conda]: a conda stage that copies the staged prefix,
its variables, apt left to what the conda lock does not provide; with [conda] off, the
Dockerfile labship wrote before [conda] existed, byte for byte. The staged context holds
the lock's records linked at the image's prefix."""

from __future__ import annotations

import json
import re
from pathlib import Path

from dockerfixtures import write_project
from labship.images.context import STAGED_CONDA_DIR, stage_context
from labship.images.dockerfile import render_dockerfile
from labship.locking.conda import CONDA_LOCK_NAME, parse
from labship.project import load_project

LOCK = """\
# labship: {"inputs":"x","channels":["file:///c"],"specs":["unixodbc"]}
@EXPLICIT
file:///c/linux-64/unixodbc-2.3.12-h1234_0.conda#sha256:%s
""" % ("0" * 64)


def test_conda_off_keeps_the_dockerfile_as_it_was(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", system_packages=["unixodbc"])
    text = render_dockerfile(project)
    assert "AS conda" not in text and "CONDA_PREFIX" not in text and "LD_LIBRARY_PATH" not in text
    assert re.search(r"tini unixodbc", text)


def test_conda_on_copies_the_prefix_and_leaves_its_packages_to_it(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_project(
        root, system_packages=["unixodbc", "libpq5"], extra_toml="[conda]\nenabled = true\n"
    )
    (root / CONDA_LOCK_NAME).write_text(LOCK)
    text = render_dockerfile(load_project(root))
    assert "FROM scratch AS conda\nCOPY conda/ /opt/labship/conda/" in text
    assert "COPY --from=conda /opt/labship/conda /opt/labship/conda" in text
    assert "LD_LIBRARY_PATH=/opt/labship/conda/lib" in text
    assert "PATH=/opt/venv/bin:/opt/labship/conda/bin:$PATH" in text
    apt = text.split("apt-get $ca install", 1)[1].splitlines()[1]
    assert apt.replace("\\", "").split() == ["tini", "libpq5"]  # unixodbc comes from the conda lock


def test_the_context_stages_exactly_the_locked_records(tmp_path: Path, conda_channel: Path) -> None:
    from labship.locking import Lock
    from labship.tools import rattler

    root = tmp_path / "p"
    project = write_project(root, extra_toml="[conda]\nenabled = true\n")
    records = rattler.solve(["labtool"], [conda_channel.as_uri()], cache=tmp_path / "c")
    lines = "".join(f"{r.url}#sha256:{r.sha256}\n" for r in records)
    (root / CONDA_LOCK_NAME).write_text(f'# labship: {{"inputs":"x"}}\n@EXPLICIT\n{lines}')
    natives = parse(root / CONDA_LOCK_NAME, (root / CONDA_LOCK_NAME).read_text())
    lock = Lock(root, "3.11", root / "pylock.toml", root / "pylock.dev.toml", "a", "b", {}, natives)
    with stage_context(project, lock) as context:
        staged = context / STAGED_CONDA_DIR
        meta = sorted(p.name for p in (staged / "conda-meta").glob("*.json"))
        assert meta == ["labtool-0.3-h1234_0.json", "liblabfoo-2.0-h1234_0.json"]
        record = json.loads((staged / "conda-meta" / meta[1]).read_text())
        assert record["sha256"] == records[1].sha256
        config = (staged / "bin" / "labtool-config").read_text()
        assert "/opt/labship/conda" in config  # the image's prefix, patched in
