"""Images: the generated Dockerfile (fast tests) and real builds (``docker`` marker)."""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockerfixtures import LOCAL_BASE, make_lock, write_project
from labship import api, envcheck
from labship.console import Console
from labship.errors import (
    ConfigError,
    ConflictError,
    ImportCheckError,
    RuntimeUnavailable,
    ToolError,
)
from labship.generated import state as file_state
from labship.images import base as image_base
from labship.images import build as image_build
from labship.images import ca as image_ca
from labship.images import context as image_context
from labship.images import dockerfile as image_dockerfile
from labship.images import tags as image_tags
from labship.locking import TOOL_TABLE, Lock
from labship.project import Project, load_project
from labship.tools import docker as dockertool

HASH_A = "a" * 64
HASH_B = "b" * 64


def fake_lock(project: Project) -> Lock:
    return Lock(
        root=project.root,
        python="3.11",
        prod_path=project.root / "pylock.toml",
        dev_path=project.root / "pylock.dev.toml",
        prod_hash=HASH_A,
        dev_hash=HASH_B,
        meta={},
    )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return write_project(tmp_path / "demo")


# ---------------------------------------------------------------- render


def test_render_has_header_checksum_and_no_syntax_line(project: Project) -> None:
    text = image_dockerfile.render_dockerfile(project)
    assert text.startswith(image_dockerfile.HEADER.text)
    assert "do not edit" in image_dockerfile.HEADER.text.lower()
    assert "labship eject" in image_dockerfile.HEADER.text
    assert re.search(r"^# labship-checksum: sha256=[0-9a-f]{64}$", text, re.M)
    assert "# syntax" not in text and "syntax=" not in text
    assert "ARG BASE_IMAGE=python:3.11-slim" in text
    for stage in ("AS builder", "AS dev-builder", "AS dev", "AS prod"):
        assert stage in text
    # environment layers come before any code
    assert text.index("uv pip sync") < text.index("COPY --chown=10001:10001 code/")


def test_both_images_check_their_imports_after_the_install_before_the_code(
    project: Project,
) -> None:
    text = image_dockerfile.render_dockerfile(project)
    probe = "/opt/venv/bin/python -I -B /tmp/labship-check-probe.py /tmp/labship-check-"
    for target, after in (("prod", "COPY --from=builder "), ("dev", "COPY --from=dev-builder ")):
        step = text.index(probe + f"{target}.json")
        stage = text.index(f"AS {target}\n")
        assert stage < text.index(after, stage) < step  # in the final stage, after the venv
        mounts = text[text.rindex("RUN ", 0, step) : step]
        assert f"source=labship-check/{target}.json," in mounts
        assert "source=labship-check/probe.py," in mounts
    prod = text.index(probe + "prod.json")
    assert prod < text.index("COPY --chown=10001:10001 code/")  # code changes reuse it
    assert text.index(probe + "dev.json") < text.index("ARG UID=")  # one check for every user


def test_native_conda_packages_a_kept_package_loads_are_installed_by_apt(
    project: Project,
) -> None:
    config = project.root / "labship.toml"
    config.write_text(config.read_text().replace("requirements.txt", "environment.yml"))
    (project.root / "environment.yml").write_text(
        "dependencies:\n  - python=3.11\n  - pyodbc=5.2.0=py311h2dc5d0c_0\n"
        "  - unixodbc=2.3.12=h661eb56_0\n  - libgcc-ng=13.2.0=h807b86a_3\n"
    )
    text = image_dockerfile.render_dockerfile(load_project(project.root))
    start = text.index("--no-install-recommends \\\n") + len("--no-install-recommends \\\n")
    apt = text[start : text.index("\\\n", start)]
    assert apt.split() == ["tini", "unixodbc"]  # libgcc-ng: no kept package loads it


def test_bytecode_skips_test_suites_and_uv_is_pinned(project: Project) -> None:
    text = image_dockerfile.render_dockerfile(project)
    # .pyc for what jobs import (a read-only venv cannot cache them at run time), not for
    # packages' own tests/ folders; uv's compile-everything is off
    assert text.count("compileall -q -j 0 -x '/tests?/' /opt/venv/lib") == 2
    assert "UV_COMPILE_BYTECODE=0" in text and "UV_COMPILE_BYTECODE=1" not in text
    assert "UV_LINK_MODE=copy" in text and "target=/root/.cache/uv" in text
    # the staged uv is used only if it runs there and is the pinned version
    assert "--mount=type=bind,source=uv," in text
    assert f'= "uv {image_context.UV_VERSION}" ]' in text
    assert f"pip install --disable-pip-version-check --quiet uv=={image_context.UV_VERSION}" in text


def test_context_stages_labships_uv_only_when_usable(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    image_dockerfile.write_dockerfile(project)
    binary = tmp_path / "uv-bin"
    binary.write_bytes(b"\x7fELF fake")
    monkeypatch.setattr(image_context, "host_uv_for_image", lambda: binary)
    with image_context.stage_context(project) as ctx:
        assert (ctx / "uv" / "uv").read_bytes() == b"\x7fELF fake"
    monkeypatch.setattr(image_context, "host_uv_for_image", lambda: None)
    with image_context.stage_context(project) as ctx:
        assert (ctx / "uv").is_dir() and not any((ctx / "uv").iterdir())


def test_host_uv_refuses_shims_and_other_versions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from labship.tools import uv as uvtool

    if sys.platform != "linux" or os.uname().machine != "x86_64":
        assert image_context.host_uv_for_image() is None
        return
    shim = tmp_path / "uv"
    shim.write_text('#!/bin/sh\nexec uv "$@"\n')
    monkeypatch.setattr(uvtool, "uv_bin", lambda: str(shim))
    monkeypatch.setattr(uvtool, "uv_version", lambda: image_context.UV_VERSION)
    assert image_context.host_uv_for_image() is None  # a script, not the binary
    elf = tmp_path / "uv-elf"
    elf.write_bytes(b"\x7fELF")
    monkeypatch.setattr(uvtool, "uv_bin", lambda: str(elf))
    assert image_context.host_uv_for_image() == elf
    monkeypatch.setattr(uvtool, "uv_version", lambda: "0.0.1")
    assert image_context.host_uv_for_image() is None


def test_base_image_setting_and_env_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p", extra_toml='base_image = "corp/python:3.11"\n')
    assert "ARG BASE_IMAGE=corp/python:3.11" in image_dockerfile.render_dockerfile(project)
    monkeypatch.setenv("LABSHIP_BASE_IMAGE", LOCAL_BASE)
    assert image_base.base_image(project) == LOCAL_BASE
    # the variable reaches the build, not the file: the file stays a function of labship.toml
    assert LOCAL_BASE not in image_dockerfile.render_dockerfile(project)


def test_system_packages_rendered_and_validated(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", system_packages=["unixodbc", "libpq5"])
    text = image_dockerfile.render_dockerfile(project)
    assert re.search(r"tini unixodbc libpq5", text)
    bad = write_project(tmp_path / "q", system_packages=["curl; rm -rf /"])
    with pytest.raises(ConfigError, match="not a Debian package name"):
        image_dockerfile.render_dockerfile(bad)


def test_write_is_idempotent_and_detects_hand_edit(project: Project) -> None:
    path = image_dockerfile.write_dockerfile(project)
    assert file_state(path) == "generated"
    before = path.stat().st_mtime_ns
    image_dockerfile.write_dockerfile(project)
    assert path.stat().st_mtime_ns == before
    path.write_text(path.read_text() + "RUN echo mine\n")
    assert file_state(path) == "edited"
    with pytest.raises(ConflictError) as info:
        image_dockerfile.write_dockerfile(project)
    assert info.value.exit_code == 73
    assert str(path) in str(info.value)
    assert "labship eject" in str(info.value) and "--force" in str(info.value)
    assert "RUN echo mine" in path.read_text()  # untouched
    image_dockerfile.write_dockerfile(project, force=True)
    assert "RUN echo mine" not in path.read_text()


def test_eject_keeps_edits_and_is_then_left_alone(project: Project) -> None:
    path = image_dockerfile.write_dockerfile(project)
    path.write_text(path.read_text() + "RUN echo mine\n")
    assert api.eject(project)[0] == path
    text = path.read_text()
    assert not text.startswith("# Generated") and "labship-checksum" not in text
    assert "RUN echo mine" in text
    assert file_state(path) == "user"
    out = io.StringIO()
    image_dockerfile.write_dockerfile(project, console=Console(stream=out))
    assert path.read_text() == text
    assert "as is" in out.getvalue()
    assert api.eject(project)[0] == path  # idempotent


def test_eject_without_a_dockerfile_writes_one(project: Project) -> None:
    path = api.eject(project)[0]
    assert "AS prod" in path.read_text()
    assert file_state(path) == "user"


# ---------------------------------------------------------------- tags, labels


def test_dev_and_prod_never_share_a_tag(project: Project) -> None:
    lock = fake_lock(project)
    dev = image_tags.tags(project, lock, "dev")
    prod = image_tags.tags(project, lock, "prod")
    assert not set(dev) & set(prod)
    assert dev == ["demo:dev-bbbbbbbbbbbb", "demo:dev"]
    assert prod == ["demo:0.1.0", "demo:prod-aaaaaaaaaaaa"]  # not a git repo: no commit tag
    assert all(t.split(":")[1].startswith("dev") for t in dev)
    assert not any(t.split(":")[1].startswith("dev") for t in prod)


def test_prod_tags_name_the_commit_and_dirty(project: Project) -> None:
    root = project.root
    git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    lock = fake_lock(project)
    assert f"demo:0.1.0-{commit[:12]}" in image_tags.tags(project, lock, "prod")
    assert image_tags.labels(project, lock, "prod")["org.opencontainers.image.revision"] == (
        commit.strip()
    )
    (root / "data").mkdir()
    (root / "data" / "x.csv").write_text("1\n")  # outside the image's inputs: still clean
    assert f"demo:0.1.0-{commit[:12]}" in image_tags.tags(project, lock, "prod")
    (root / "code" / "hello.py").write_text("print('changed')\n")
    assert f"demo:0.1.0-{commit[:12]}-dirty" in image_tags.tags(project, lock, "prod")


def test_version_that_looks_like_a_dev_tag_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write_project(root)
    text = (
        (root / "labship.toml")
        .read_text()
        .replace('python = "3.11"', 'version = "dev"\npython = "3.11"')
    )
    (root / "labship.toml").write_text(text)
    project = load_project(root)
    with pytest.raises(ConfigError, match="clash"):
        image_tags.tags(project, fake_lock(project), "prod")


# ---------------------------------------------------------------- context, argv


def test_context_is_an_allow_list(project: Project) -> None:
    root = project.root
    (root / ".env").write_text("A=1\n")
    (root / ".env_prod").write_text("TOKEN=prod\n")
    (root / "code" / ".env_local").write_text("TOKEN=local\n")
    for folder in ("data", "models", ".git", ".venv", "code/__pycache__", "other"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "f").write_text("x\n")
    (root / "code" / "link-to-data").symlink_to(root / "data")
    (root / "pylock.toml").write_text('lock-version = "1.0"\n' + TOOL_TABLE + 'x = "1"\n')
    image_dockerfile.write_dockerfile(project)
    with image_context.stage_context(project) as ctx:
        found = {str(p.relative_to(ctx)) for p in ctx.rglob("*")}
        assert (ctx / "pylock.toml").read_text() == 'lock-version = "1.0"\n'
        assert (ctx / "code" / "link-to-data").is_symlink()
        # the import check: the probe and what each target checks (the spec, + [lab] for dev)
        check = ctx / image_context.STAGED_CHECK_DIR
        assert (check / "probe.py").read_bytes() == envcheck.PROBE.read_bytes()
        assert json.loads((check / "prod.json").read_text()) == {"names": ["six"]}
        assert json.loads((check / "dev.json").read_text()) == {"names": ["six", "iniconfig"]}
    assert not ctx.exists()
    assert {"code", "code/hello.py", "notebooks", "notebooks/explore.ipynb"} <= found
    assert {"docker", "docker/Dockerfile", "pylock.toml", "code/link-to-data"} <= found
    forbidden = (".env", "data", "models", ".git", ".venv", ".labship", "other", "labship.toml")
    for name in found:
        parts = name.split("/")
        assert parts[0] not in forbidden, name
        assert not any(p.startswith(".env") or p == "__pycache__" for p in parts), name


def test_build_argv(project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv("LABSHIP_BASE_IMAGE", LOCAL_BASE)
    lock = fake_lock(project)
    ctx, iid = tmp_path / "ctx", tmp_path / "iid"
    dev = image_build.build_argv(project, lock, "dev", ctx, iid, uid=1234, gid=99)
    assert dev[:2] == ["--target", "dev"] and "--network=host" in dev
    assert f"id=ca,src={bundle}" in dev
    assert f"BASE_IMAGE={LOCAL_BASE}" in dev
    assert "UID=1234" in dev and "GID=99" in dev
    assert "-t" not in dev and "--tag" not in dev  # tags move only after success
    assert f"org.labship.lock={HASH_B}" in dev
    prod = image_build.build_argv(project, lock, "prod", ctx, iid)
    assert f"org.labship.lock={HASH_A}" in prod and not any(a.startswith("UID=") for a in prod)
    assert prod[-1] == str(ctx)


def test_missing_configured_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", extra_toml='ca_bundle = "certs/corp.pem"\n')
    with pytest.raises(ConfigError, match=r"certs/corp\.pem"):
        image_ca.ca_bundle(project)


# ---------------------------------------------------------------- docker tool


# What BuildKit 0.8 (docker 20.10) prints when the engine answers but no registry does.
PULL_LOG = """\
#3 [internal] load metadata for docker.io/library/python:3.11-slim
#3 sha256:fec50dacbb21839eefab803f73dbb4d9623839a8f78459ebb826d917bc361c9b
#3 ERROR: failed to do request: Head "https://registry-1.docker.io/v2/library/python/manifests\
/3.11-slim": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host
------
 > [internal] load metadata for docker.io/library/python:3.11-slim:
------
failed to solve with frontend dockerfile.v0: failed to create LLB definition: failed to do \
request: Head "https://registry-1.docker.io/v2/library/python/manifests/3.11-slim": dial tcp: \
lookup registry-1.docker.io on 10.255.255.53:53: no such host
"""


def test_pull_failure_reads_the_image_and_the_cause_from_buildkits_log() -> None:
    expected = ("python:3.11-slim", "DNS lookup of registry-1.docker.io failed")
    assert dockertool.pull_failure(PULL_LOG) == expected
    summary_only = "\n".join(ln for ln in PULL_LOG.splitlines() if not ln.startswith("#3 ERROR"))
    assert dockertool.pull_failure(summary_only) == expected
    newer = (
        "ERROR: failed to solve: team/base:1: failed to resolve source metadata for "
        "registry.example.com:5000/team/base:1: unexpected status: 401 Unauthorized\n"
    )
    image, why = dockertool.pull_failure(newer) or ("", "")
    assert image == "registry.example.com:5000/team/base:1" and "access denied" in why
    other = "#9 [prod 2/5] RUN false\n#9 ERROR: executor failed running: exit code: 1\n"
    assert dockertool.pull_failure(other) is None


_REGISTRY = 'Get "https://r.example/v2/": '


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (_REGISTRY + "dial tcp 10.0.0.9:443: connect: connection refused", "r.example refused"),
        (_REGISTRY + "net/http: TLS handshake timeout", "timed out reaching r.example"),
        (_REGISTRY + "x509: certificate signed by unknown authority", "certificate of r.example"),
        ("manifest unknown: manifest unknown", "not found in the registry"),
        ("pull access denied for x, repository does not exist", "docker login"),
        ("dial tcp: connect: network is unreachable", "no network route"),
    ],
)
def test_registry_problems_in_a_few_words(message: str, words: str) -> None:
    assert words in dockertool.registry_problem(message)


@pytest.fixture
def fresh_client_cache() -> Iterator[None]:
    dockertool.build_client.cache_clear()
    dockertool.binary.cache_clear()
    yield
    dockertool.build_client.cache_clear()
    dockertool.binary.cache_clear()


def _fake_docker(folder: Path, script: str) -> None:
    folder.mkdir(parents=True)
    path = folder / "docker"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_client_without_buildkit_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_client_cache: None
) -> None:
    _fake_docker(tmp_path / "new", 'echo "ERROR: BuildKit is enabled but the buildx" >&2; exit 1\n')
    _fake_docker(
        tmp_path / "old",
        '[ "$1" = buildx ] && exit 1\n[ "$DOCKER_BUILDKIT" = 1 ] && echo "  --secret x"\n',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'new'}:{tmp_path / 'old'}")
    monkeypatch.setattr(dockertool, "_FALLBACK_CLIENTS", ())
    client = dockertool.build_client()
    assert client == dockertool.Client(str(tmp_path / "old" / "docker"), buildx=False)
    assert client.env()["DOCKER_BUILDKIT"] == "1"


def test_no_buildkit_client_is_runtime_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_client_cache: None
) -> None:
    _fake_docker(tmp_path / "new", "exit 1\n")
    monkeypatch.setenv("PATH", str(tmp_path / "new"))
    monkeypatch.setattr(dockertool, "_FALLBACK_CLIENTS", ())
    with pytest.raises(RuntimeUnavailable, match="--runtime local") as info:
        dockertool.build_client()
    assert info.value.exit_code == 69


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            "Cannot connect to the Docker daemon at unix:///x. Is the docker daemon running?",
            "cannot connect",
        ),
        ("permission denied while trying to connect to the Docker daemon socket", "permission"),
    ],
)
def test_ping_distinguishes_failures(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_client_cache: None,
    stderr: str,
    expected: str,
) -> None:
    _fake_docker(tmp_path / "bin", f'echo "{stderr}" >&2; exit 1\n')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(dockertool, "_FALLBACK_CLIENTS", ())
    with pytest.raises(RuntimeUnavailable, match=expected) as info:
        dockertool.ping()
    assert "--runtime local" in str(info.value)


def test_ping_without_docker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_client_cache: None
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(dockertool, "_FALLBACK_CLIENTS", ())
    with pytest.raises(RuntimeUnavailable, match="docker not found"):
        dockertool.ping()


def test_engine_reachable_speaks_http_on_the_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "d.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def answer() -> None:
        conn, _ = server.accept()
        request = conn.recv(1024)
        assert request.startswith(b"GET /_ping ")
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    try:
        assert dockertool.engine_reachable()
    finally:
        thread.join()
        server.close()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    started = time.monotonic()
    assert not dockertool.engine_reachable()
    assert time.monotonic() - started < 0.5


# ---------------------------------------------------------------- real engine


@dataclass
class Built:
    project: Project
    lock: Lock
    prod: image_build.BuiltImage
    dev: image_build.BuiltImage
    secret: str
    ca_marker: str


def _docker(*args: str) -> str:
    return dockertool.docker(list(args), console=None).stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """One tiny project built once (prod and dev) for every real-engine test."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LABSHIP_BASE_IMAGE", LOCAL_BASE)
    root = tmp_path_factory.mktemp("img") / "imgdemo"
    ca_marker = f"labship-ca-marker-{secrets.token_hex(8)}"
    root.mkdir()
    system_ca = Path(os.environ.get("SSL_CERT_FILE", image_ca.DEFAULT_CA_BUNDLE))
    (root / "ca.pem").write_text(system_ca.read_text() + f"# {ca_marker}\n")
    project = write_project(root, name="labship-test-img", extra_toml='ca_bundle = "ca.pem"\n')
    secret = f"prod-secret-{secrets.token_hex(12)}"
    (root / ".env_prod").write_text(f"DB_PASSWORD={secret}\n")
    (root / "data").mkdir()
    (root / "data" / "raw.csv").write_text(f"secret,{secret}\n")
    (root / "code" / ".env").write_text(f"DB_PASSWORD={secret}\n")
    lock = make_lock(project, ["six==1.16.0"])
    git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (root / ".gitignore").write_text(".env*\ndata/\n.labship/\nca.pem\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    console = Console(stream=io.StringIO(), verbose=True)
    prod = image_build.build(project, lock, "prod", console=console)
    dev = image_build.build(project, lock, "dev", console=console, uid=1234, gid=1234)
    yield Built(project, lock, prod, dev, secret, ca_marker)
    mp.undo()


def _packages(image: str) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, re;"
        "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version"
        " for d in m.distributions()}))"
    )
    out = _docker("run", "--rm", "--entrypoint", "/opt/venv/bin/python", image, "-c", code)
    return dict(json.loads(out))


@pytest.mark.docker
def test_images_hold_exactly_the_locked_sets(built: Built) -> None:
    prod = _packages(built.prod.image_id)
    dev = _packages(built.dev.image_id)
    assert prod == dict(built.lock.prod)
    assert dev == dict(built.lock.dev)
    assert all(dev[name] == version for name, version in prod.items())


@pytest.mark.docker
def test_prod_is_lean_non_root_and_labelled(built: Built) -> None:
    image = built.prod.image_id
    probe = (
        "id -u; for t in uv pip pip3 gcc cc jupyter jupyter-lab; do"
        " command -v $t && echo FOUND $t; done;"
        " /opt/venv/bin/python -c 'import importlib.util as u;"
        ' print([m for m in ("pip","uv","jupyterlab") if u.find_spec(m)])\';'
        ' python3 code/hello.py; ls -ld /app/code | cut -d" " -f3'
    )
    out = _docker("run", "--rm", image, "sh", "-c", probe).split()
    assert out[0] == "10001"
    assert "FOUND" not in out
    assert "[]" in out
    assert "hello" in out
    info = json.loads(_docker("image", "inspect", image))[0]["Config"]
    assert info["Entrypoint"] == ["tini", "--"]
    labels = info["Labels"]
    assert labels["org.labship.project"] == "labship-test-img"
    assert labels["org.labship.lock"] == built.lock.prod_hash
    assert labels["org.labship.version"]
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert len(labels["org.opencontainers.image.revision"]) == 40
    dev_labels = json.loads(_docker("image", "inspect", built.dev.image_id))[0]["Config"]
    assert dev_labels["Labels"]["org.labship.lock"] == built.lock.dev_hash
    assert not set(built.dev.tags) & set(built.prod.tags)


@pytest.mark.docker
def test_prod_has_bytecode_but_not_for_test_suites(built: Built) -> None:
    probe = (
        "import sys, sysconfig, pathlib; sp = pathlib.Path(sysconfig.get_paths()['purelib']);"
        " pyc = list(sp.rglob('*.pyc'));"
        " print(len(pyc), sum('tests' in p.parts or 'test' in p.parts for p in pyc),"
        " (sp / '__pycache__' / f'six.cpython-{sys.version_info[0]}{sys.version_info[1]}.pyc')"
        ".is_file())"
    )
    out = _docker("run", "--rm", built.prod.image_id, "python3", "-c", probe).split()
    assert int(out[0]) > 0 and out[1] == "0" and out[2] == "True", out


@pytest.mark.docker
def test_dev_runs_as_the_host_user(built: Built) -> None:
    out = _docker("run", "--rm", built.dev.image_id, "sh", "-c", "id -u; id -g; pwd; ls /app")
    assert out.split()[:3] == ["1234", "1234", "/app"]
    assert "code" not in out.split()  # code is mounted at run time, not baked


@pytest.mark.docker
def test_no_secret_env_data_or_ca_in_any_layer(built: Built, tmp_path: Path) -> None:
    for image in (built.prod.image_id, built.dev.image_id):
        tar = tmp_path / "image.tar"
        _docker("save", "-o", str(tar), image)
        blob = tar.read_bytes()
        assert len(blob) > 1_000_000
        assert built.secret.encode() not in blob
        assert built.ca_marker.encode() not in blob
        tar.unlink()


@pytest.mark.docker
def test_code_only_change_reuses_the_package_layer(built: Built) -> None:
    code = built.project.root / "code" / "hello.py"
    code.write_text("print('hello again')\n")
    stream = io.StringIO()
    started = time.monotonic()
    again = image_build.build(
        built.project, built.lock, "prod", console=Console(stream=stream, verbose=True)
    )
    elapsed = time.monotonic() - started
    log = stream.getvalue()
    steps = dict(re.findall(r"^#(\d+) \[([^\]]+)\]", log, re.M))
    sync = [n for n, name in steps.items() if name.startswith("builder")]
    assert sync, log
    for number in sync:
        assert re.search(rf"^#{number} CACHED$", log, re.M), f"step {steps[number]} re-ran"
    assert again.image_id != built.prod.image_id
    assert elapsed < 30
    out = _docker("run", "--rm", again.image_id, "python3", "code/hello.py")
    assert out.strip() == "hello again"
    built.prod = again


@pytest.mark.docker
def test_failed_build_leaves_the_previous_tag(built: Built) -> None:
    tag = built.prod.tags[0]
    before = _docker("image", "inspect", "--format", "{{.Id}}", tag).strip()
    lock_file = built.project.root / "pylock.toml"
    good = lock_file.read_text()
    bad = re.sub(r'sha256 = "[0-9a-f]{64}"', 'sha256 = "' + "0" * 64 + '"', good)
    assert bad != good
    lock_file.write_text(bad)
    try:
        with pytest.raises(ToolError, match="previous image is unchanged"):
            image_build.build(
                built.project, built.lock, "prod", console=Console(stream=io.StringIO())
            )
    finally:
        lock_file.write_text(good)
    after = _docker("image", "inspect", "--format", "{{.Id}}", tag).strip()
    assert after == before


@pytest.mark.docker
def test_sigint_during_build_leaves_nothing_behind(built: Built, tmp_path: Path) -> None:
    root = tmp_path / "slow"
    shutil.copytree(built.project.root, root, ignore=shutil.ignore_patterns(".labship", ".git"))
    project = load_project(root)
    path = api.eject(project)[0]
    marker = f"labship-sleep-{secrets.token_hex(4)}"
    text = path.read_text().replace(
        "COPY --chown=10001:10001 code/ /app/code/",
        f"RUN echo {marker} && sleep 60\nCOPY --chown=10001:10001 code/ /app/code/",
    )
    path.write_text(text)
    tag = built.prod.tags[0]
    before = _docker("image", "inspect", "--format", "{{.Id}}", tag).strip()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from labship.images import build as images\nfrom labship.console import Console\n"
        "from labship.errors import LabshipError\nfrom labship.project import load_project\n"
        "from labship.locking import Lock\n"
        "p = load_project(Path(sys.argv[1]))\n"
        "lock = Lock(p.root, '3.11', p.lock_path, p.dev_lock_path, 'a'*64, 'b'*64, {})\n"
        "try:\n"
        "    images.build(p, lock, 'prod', console=Console(verbose=True))\n"
        "except LabshipError as e:\n"
        "    print('ERR', type(e).__name__, e, file=sys.stderr); sys.exit(e.exit_code)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(root)],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A shell's background job starts with SIGINT ignored; Ctrl-C is what is tested.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env={**os.environ, "LABSHIP_BASE_IMAGE": LOCAL_BASE},
    )
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        seen.append(line)
        if marker in line and "RUN echo" not in line:  # the step is running
            break
        assert time.monotonic() < deadline, "".join(seen)
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does: the whole foreground group
    rest = proc.stderr.read()
    code = proc.wait(timeout=60)
    proc.stderr.close()
    assert code == 130, "".join(seen) + rest
    assert "interrupted" in rest
    time.sleep(2)
    # BuildKit runs steps outside 'docker ps'; check both that and the process table.
    commands = _docker("ps", "-a", "--no-trunc", "--format", "{{.Command}}")
    assert marker not in commands
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert marker not in ps
    after = _docker("image", "inspect", "--format", "{{.Id}}", tag).strip()
    assert after == before


@pytest.mark.docker
def test_system_packages_make_pyodbc_import(tmp_path: Path) -> None:
    os.environ.setdefault("LABSHIP_BASE_IMAGE", LOCAL_BASE)
    project = write_project(
        tmp_path / "odbc", name="labship-test-odbc", system_packages=["unixodbc"]
    )
    lock = make_lock(project, ["pyodbc==5.2.0"])
    image = image_build.build(project, lock, "prod", console=Console(stream=io.StringIO()))
    out = _docker(
        "run", "--rm", image.image_id, "python3", "-c", "import pyodbc; print(pyodbc.version)"
    )
    assert out.strip() == "5.2.0"


@pytest.mark.docker
def test_an_image_whose_packages_do_not_import_is_not_tagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABSHIP_BASE_IMAGE", LOCAL_BASE)
    project = write_project(tmp_path / "noodbc", name=f"labship-test-noodbc-{os.getpid()}")
    lock = make_lock(project, ["pyodbc==5.2.0"])  # without [docker] system_packages
    with pytest.raises(ImportCheckError) as info:
        image_build.build(project, lock, "prod", console=Console(stream=io.StringIO()))
    lines = str(info.value).splitlines()
    assert info.value.exit_code == 65
    assert lines[0] == (
        "the prod image was not built (the previous one is unchanged): "
        "1 direct dependency does not import"
    )
    assert lines[1] == (
        "  pyodbc 5.2.0 (import pyodbc): the system library libodbc.so.2 is missing from the "
        'image; add "unixodbc" to [docker] system_packages in labship.toml'
    )
    assert dockertool.inspect_image(image_tags.tags(project, lock, "prod")[0]) is None


@pytest.mark.docker
def test_a_base_image_with_another_python_stops_before_buildkit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import labship

    project = write_project(tmp_path / "py310")
    config = project.root / "labship.toml"
    config.write_text(config.read_text().replace('python = "3.11"', 'python = "3.10"'))
    labship("lock", cwd=project.root, check=True)
    env = {"LABSHIP_BASE_IMAGE": LOCAL_BASE, "LABSHIP_STORE": str(tmp_path / "store")}
    proc = labship("build", "prod", cwd=project.root, env=env)
    assert proc.returncode == 78, proc.stderr
    (error,) = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert f"the base image {LOCAL_BASE} has Python 3.11" in error
    assert "the lock is for Python 3.10" in error and 'base_image = "python:3.10-slim"' in error
    assert len(error) <= 300
    assert "building the prod image" not in proc.stderr  # BuildKit never ran
    remembered = json.loads((tmp_path / "store" / "docker-python.json").read_text())
    assert [v[:4] for v in remembered.values()] == ["3.11"]  # by image ID, read once
