"""What labship renders for a lock is valid TOML that reads back as meant, and an invalid
lock never replaces a valid one. No network: uv's part is a fixed text here (the real
thing is in test_lock.py)."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

import labship.templates
from labship.errors import FileWriteError, ToolError
from labship.locking import _write, environments
from labship.locking.files import render_lock, replace_together, split
from labship.locking.resolve import Request, _resolver_project
from labship.project import load_project
from labship.spec import read_spec

BODY = 'lock-version = "1.0"\ncreated-by = "uv"\n\n[[packages]]\nname = "six"\nversion = "1.16.0"\n'
HOSTILE = {
    "PLAIN": "bar",
    "QUOTES": "a \"quoted\" 'value'",
    "BACKSLASH": "C:\\temp\\new",
    "NEWLINE": "line one\nline two",
    "TABLE": "\n[tool.labship]\nset = 'evil'",
    "UNICODE": "naïve ☃",
    "with space.and-dot": "key needs quoting",
    "EMPTY": "",
}


def _meta(**overrides: Any) -> dict[str, Any]:
    meta = {
        "python": "3.11",
        "spec": "docker/environment.yml",
        "inputs": "i" * 64,
        "digest": "d" * 64,
        "dev_packages": ("jupyterlab",),
        "moved": ("ipykernel",),
        "uv_version": "0.13.9",
        "labship_version": "0.1.0",
        "resolved_at": "2026-01-01T00:00:00Z",
        "variables": HOSTILE,
    }
    return {**meta, **overrides}


@pytest.mark.parametrize("dev", [False, True])
def test_rendered_lock_reads_back_as_meant(tmp_path: Path, dev: bool) -> None:
    text = render_lock(tmp_path / "pylock.toml", BODY, _meta(), dev=dev)
    data = tomllib.loads(text)
    assert data["packages"] == [{"name": "six", "version": "1.16.0"}]
    tool = data["tool"]["labship"]
    assert tool["variables"] == HOSTILE
    assert tool["set"] == ("dev" if dev else "prod")
    assert tool["dev-packages"] == ["jupyterlab"] and tool["moved-to-dev"] == ["ipykernel"]
    assert split(text)[0] == BODY  # the hashed part is uv's export, exactly


def test_no_variables_and_nothing_moved(tmp_path: Path) -> None:
    text = render_lock(tmp_path / "pylock.toml", BODY, _meta(variables={}, moved=()), dev=False)
    tool = tomllib.loads(text)["tool"]["labship"]
    assert tool["variables"] == {} and "moved-to-dev" not in tool


# The rendering of the bug this guards against: header and first key on one line.
BROKEN_TABLE = '\n[tool.labship]\npython = "3.11"\n\n[tool.labship.variables]"FOO" = "bar"\n'


def test_an_invalid_lock_never_replaces_a_valid_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "demo"
    root.mkdir()
    (root / "labship.toml").write_text('[project]\nname = "demo"\nspec = "requirements.txt"\n')
    project = load_project(root)
    before = {"pylock.toml": "valid prod\n", "pylock.dev.toml": "valid dev\n"}
    for name, text in before.items():
        (root / name).write_text(text)
    real = labship.templates.render

    def render(template: str, /, **context: Any) -> str:
        if template == "lock/labship-table.toml.j2" and context["set"] == "dev":
            return BROKEN_TABLE  # prod renders fine: it must not be written alone either
        return real(template, **context)

    monkeypatch.setattr(labship.templates, "render", render)
    with pytest.raises(ToolError, match=r"pylock\.dev\.toml.*not valid TOML.*unchanged"):
        _write(project, (BODY, BODY), _meta(), {})
    assert {name: (root / name).read_text() for name in before} == before
    assert sorted(p.name for p in root.iterdir()) == ["labship.toml", *sorted(before)]


def test_a_failed_write_replaces_neither_file(tmp_path: Path) -> None:
    first = tmp_path / "pylock.toml"
    first.write_text("old\n")
    (tmp_path / "afile").write_text("")
    second = tmp_path / "afile" / "pylock.dev.toml"  # its folder is a file: cannot be written
    with pytest.raises(FileWriteError, match="unchanged"):
        replace_together({first: "new\n", second: "new\n"})
    assert first.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "pylock.toml"]  # no leftover


def test_every_documented_spec_feature_renders_a_valid_uv_project(tmp_path: Path) -> None:
    """README 'The spec': name, channels, dependencies, pip: with -r, --index-url,
    --extra-index-url, --find-links, pkg @ url, variables."""
    (tmp_path / "wheels").mkdir()
    (tmp_path / "more.txt").write_text("idna==3.7\n")
    spec_path = tmp_path / "environment.yml"
    spec_path.write_text(
        textwrap.dedent(
            """\
            name: demo
            channels: [conda-forge, defaults]
            dependencies:
              - python=3.11
              - six=1.16
              - pip:
                  - -r more.txt
                  - --index-url https://user:s3cr3t@idx.example/simple
                  - --extra-index-url https://extra.example/simple
                  - --find-links wheels
                  - --find-links https://links.example/wheels/
                  - idna @ https://files.example/idna-3.7-py3-none-any.whl
            variables:
              FOO: "a \\"b\\""
            """
        )
    )
    spec = read_spec(spec_path)
    request = Request(
        name="demo",
        python="3.11",
        prod=spec.requirements,
        dev=("jupyterlab",),
        spec=spec,
        where="environment.yml",
        environments=tuple(environments()),
    )
    data = tomllib.loads(_resolver_project(request))
    assert data["project"]["dependencies"] == list(spec.requirements)
    assert data["dependency-groups"]["dev"] == ["jupyterlab"]
    uv_settings = data["tool"]["uv"]
    assert uv_settings["find-links"] == [str(tmp_path / "wheels"), "https://links.example/wheels/"]
    assert uv_settings["index"] == [
        {"name": "index-1", "url": "https://user:s3cr3t@idx.example/simple", "default": True},
        {"name": "index-2", "url": "https://extra.example/simple"},
    ]
    assert uv_settings["environments"] == environments()
