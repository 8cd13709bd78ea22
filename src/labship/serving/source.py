"""Where ``labship serve MODEL`` finds its model folder: a folder is used as it is; an
MLflow URI is fetched from the tracking server into labship's store.

* ``runs:/<run_id>/<path>``: the run's artifacts under ``path``; with MLflow 3, a model
  logged in the run is a LoggedModel kept outside the run's artifacts, found like MLflow's
  client finds it (the experiment's logged models named ``path``'s first part, logged by
  that run).
* ``models:/<name>/<version>``, ``models:/<name>@<alias>`` (re-resolved to its version on
  every call), ``models:/m-<id>`` (a LoggedModel).

It speaks the tracking server's REST API through ``tools.mlflow`` (the one client) (runs/get,
model-versions/get-download-uri, registered-models/alias, logged-models/get and search,
and the proxied artifact endpoints ``/api/2.0/mlflow-artifacts/artifacts``): no MLflow
client, so no environment to build before a download. Artifacts the server proxies
(``mlflow-artifacts:``, ``mlflow server``'s default) or keeps in a local folder
(``file:``) are fetched; others (``s3://``, ...) are refused with the way around.

Downloads go to ``<store>/serve/models/<key>``, built aside and renamed into place (a failed
one leaves nothing). A run's path and a LoggedModel (UUIDs) are downloaded once and reused
without asking the server again; a version is keyed by the server, its name and where it
points (one REST call on each start); an alias is re-resolved to its version on each start.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import RuntimeUnavailable, UsageError
from labship.masking import hide_url_credentials
from labship.tools.procinfo import alive

if TYPE_CHECKING:
    from labship.console import Console
    from labship.store import Store
    from labship.tools.mlflow import Client

SCHEMES = ("runs:", "models:")
_NUMBER = re.compile(r"[0-9]+")


def is_uri(ref: str) -> bool:
    return ref.startswith(SCHEMES)


def model_folder(
    ref: str,
    *,
    tracking_uri: str | None,
    console: Console,
    lab_uri: Callable[[], str | None] | None = None,
    store: Store | None = None,
) -> Path:
    """The model folder ``ref`` names: a path as given, else the URI's download.

    The tracking server is ``tracking_uri`` (``--tracking-uri``), else
    ``MLFLOW_TRACKING_URI``, else what ``lab_uri`` returns (the project's lab server)."""
    if not is_uri(ref):
        return Path(ref)
    parsed = parse(ref)
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or (lab_uri() if lab_uri else None)
    from labship.tools.mlflow import GIVE_URI, Client

    if not uri:
        raise UsageError(
            f"{ref} names a model on an MLflow tracking server, but none is given", hint=GIVE_URI
        )
    server = Client(uri)
    if store is None:
        from labship.store import Store

        store = Store()
    return _fetch(parsed, server, store, console)


@dataclass(frozen=True)
class Ref:
    """A parsed URI: ``kind`` is run, version, alias or logged."""

    text: str
    kind: str
    name: str  # the run id, the registered model's name, or the LoggedModel's id
    detail: str = ""  # the run's path, the version, or the alias


def parse(ref: str) -> Ref:
    """The URI's parts; a malformed one is one line showing the accepted forms."""
    forms = "runs:/<run_id>/<path>, models:/<name>/<version>, models:/<name>@<alias>"
    if ref.startswith("runs:/"):
        run_id, _, path = ref[len("runs:/") :].lstrip("/").partition("/")
        path = path.strip("/")
        if run_id and path and _safe(path):
            return Ref(ref, "run", run_id, path)
    elif ref.startswith("models:/"):
        rest = ref[len("models:/") :].strip("/")
        name, slash, version = rest.partition("/")
        if slash and name and _NUMBER.fullmatch(version):
            return Ref(ref, "version", name, version)
        if slash and name and version:
            raise UsageError(
                f"{ref}: the version must be a number (stages are deprecated by MLflow)",
                hint="use models:/<name>/<version> or models:/<name>@<alias>",
            )
        name, at, alias = rest.rpartition("@")
        if at and name and alias and "/" not in rest:
            return Ref(ref, "alias", name, alias)
        if rest.startswith("m-") and "/" not in rest and "@" not in rest:
            return Ref(ref, "logged", rest)
    raise UsageError(f"{ref!r} is not a model URI labship reads", hint=f"use {forms}")


def _safe(path: str) -> bool:
    """A relative path with no ``..``: artifact names must stay inside the download."""
    parts = path.split("/")
    return bool(parts) and all(part not in ("", ".", "..") for part in parts)


def _fetch(ref: Ref, server: Client, store: Store, console: Console) -> Path:
    """The model's folder in the store: downloaded now, or the one downloaded before."""
    if ref.kind == "alias":
        found = server.get(
            "mlflow/registered-models/alias",
            f"model {ref.name!r} with alias {ref.detail!r}",
            name=ref.name,
            alias=ref.detail,
        )
        version = str(found.get("model_version", {}).get("version", ""))
        if not _NUMBER.fullmatch(version):
            raise RuntimeUnavailable(f"{server.shown} gave no version for {ref.text}")
        console.say(f"{ref.text} is version {version} of {ref.name!r}")
        ref = Ref(f"models:/{ref.name}/{version}", "version", ref.name, version)
    # A run or LoggedModel id is unique (a UUID): its download is reused without asking the
    # server again. A version is a name on one server, so it is keyed by where it points.
    artifacts = _locate(ref, server) if ref.kind == "version" else ""
    facts = [ref.kind, ref.name, ref.detail, *([server.base, artifacts] if artifacts else [])]
    key = hashlib.sha256("\n".join(facts).encode()).hexdigest()[:16]
    final = store.root / "serve" / "models" / key
    if (final / "MLmodel").is_file():
        console.say(f"using {ref.text}, downloaded before to {final}")
        return final
    artifacts = artifacts or _locate(ref, server)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(final)
    tmp = final.with_name(f".{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    console.say(f"downloading {ref.text} from {server.shown} to {final}")
    try:
        tmp.mkdir()
        _copy(artifacts, server, tmp, ref)
        if not (tmp / "MLmodel").is_file():
            raise UsageError(
                f"{ref.text} on {server.shown} is not an MLflow model (no MLmodel file)",
                hint="name the path the model was logged under",
            )
        try:
            tmp.rename(final)
        except OSError:  # a concurrent twin put the same model there first
            if not (final / "MLmodel").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _remove_abandoned(final: Path) -> None:
    """Downloads of this model that a killed labship left behind (its pid is gone)."""
    for old in final.parent.glob(f".{final.name}-*"):
        pid = old.name.rpartition("-")[2]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)


def _locate(ref: Ref, server: Client) -> str:
    """The artifact URI of the model's folder."""
    if ref.kind == "version":
        found = server.get(
            "mlflow/model-versions/get-download-uri",
            f"version {ref.detail} of model {ref.name!r}",
            name=ref.name,
            version=ref.detail,
        )
        return _resolved(str(found.get("artifact_uri", "")), server, ref)
    if ref.kind == "logged":
        return _logged(ref.name, server)
    run = server.get("mlflow/runs/get", f"run {ref.name}", run_id=ref.name).get("run", {})
    info = run.get("info", {})
    root = str(info.get("artifact_uri", ""))
    in_run = f"{root.rstrip('/')}/{ref.detail}"
    if root and _listing(in_run, server):  # MLflow 2, or a model folder logged as artifacts
        return in_run
    # MLflow 3: runs:/<id>/<name>/<rest> is the LoggedModel <name> that the run logged.
    name, _, rest = ref.detail.partition("/")
    body = {"experiment_ids": [str(info.get("experiment_id", ""))], "filter": f"name = '{name}'"}
    token = ""
    while True:
        page = server.post(
            "mlflow/logged-models/search",
            {**body, "page_token": token} if token else body,
            f"logged models of run {ref.name}",
        )
        for model in page.get("models", []):
            model_info = model.get("info", {})
            if model_info.get("source_run_id") == ref.name and model_info.get("artifact_uri"):
                uri = str(model_info["artifact_uri"]).rstrip("/")
                return f"{uri}/{rest}" if rest else uri
        token = str(page.get("next_page_token") or "")
        if not token:
            raise UsageError(
                f"run {ref.name} on {server.shown} has no model at {ref.detail!r}",
                hint="name the path (or model name) it was logged under, as in runs:/<id>/model",
            )


def _resolved(uri: str, server: Client, ref: Ref) -> str:
    """A download URI that may still be ``models:/m-<id>`` or ``runs:/...`` (older servers)."""
    if uri.startswith("models:/m-"):
        return _logged(uri[len("models:/") :].strip("/"), server)
    if uri.startswith("runs:/"):
        return _locate(parse(uri), server)
    if not uri:
        raise RuntimeUnavailable(f"{server.shown} gave no download URI for {ref.text}")
    return uri


def _logged(model_id: str, server: Client) -> str:
    found = server.get(f"mlflow/logged-models/{urllib.parse.quote(model_id)}", f"model {model_id}")
    uri = str(found.get("model", {}).get("info", {}).get("artifact_uri", ""))
    if not uri:
        raise RuntimeUnavailable(f"{server.shown} gave no artifact URI for model {model_id}")
    return uri


def _where(uri: str, server: Client) -> tuple[Client, str] | Path:
    """Who serves ``uri``: the tracking server's artifact proxy (and the path there), or
    a local folder; one line for stores labship does not read."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme == "mlflow-artifacts":
        host = server.at(parts.netloc) if parts.netloc else server
        return host, urllib.parse.unquote(parts.path).strip("/")
    if parts.scheme in ("", "file") and os.path.isabs(urllib.parse.unquote(parts.path)):
        return Path(urllib.parse.unquote(parts.path))
    raise UsageError(
        f"the model's artifacts are at {hide_url_credentials(uri)}, which labship cannot fetch",
        hint="let the tracking server serve them (mlflow server --serve-artifacts, the "
        "default), or download the model and pass its folder",
    )


def _listing(uri: str, server: Client) -> list[tuple[str, bool]]:
    """(name, is_dir) of what is directly under ``uri``; empty when nothing is."""
    where = _where(uri, server)
    if isinstance(where, Path):
        if not where.is_dir():
            return []
        return [(child.name, child.is_dir()) for child in sorted(where.iterdir())]
    host, path = where
    files = host.get("mlflow-artifacts/artifacts", f"artifacts at {uri}", path=path).get("files")
    found: list[tuple[str, bool]] = []
    for entry in files if isinstance(files, list) else []:
        name = posixpath.basename(str(entry.get("path", "")).rstrip("/"))
        if not _safe(name):
            raise RuntimeUnavailable(f"{server.shown} listed an unsafe artifact name {name!r}")
        found.append((name, bool(entry.get("is_dir"))))
    return found


def _copy(uri: str, server: Client, dest: Path, ref: Ref) -> None:
    """Every file under ``uri`` into ``dest``, folders walked one listing at a time."""
    where = _where(uri, server)
    if isinstance(where, Path):
        if not where.is_dir():
            raise UsageError(f"{ref.text}: the model's folder {where} is missing on this machine")
        shutil.copytree(where, dest, dirs_exist_ok=True)
        return
    host, path = where
    for name, is_dir in _listing(uri, server):
        if is_dir:
            (dest / name).mkdir()
            _copy(f"{uri.rstrip('/')}/{name}", server, dest / name, ref)
        else:
            host.download(f"{path}/{name}" if path else name, dest / name)
