"""One worker: loads the model once, then answers framed requests on a socket.

The front process forks workers after loading the model, so a replacement starts in
milliseconds. Frames: request ``!IH`` (body length, content-type length), content type,
body; answer ``!HI`` (status, body length), body (JSON).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import warnings
from pathlib import Path
from typing import Any

from . import protocol

REQUEST = struct.Struct("!IH")
ANSWER = struct.Struct("!HI")
_NUMERIC = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


class Model:
    """The model and its column signature (name, MLflow type), when it has one."""

    def __init__(self, folder: Path) -> None:
        import yaml

        meta = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8"))
        flavors = meta.get("flavors", {})
        if isinstance(flavors.get("sklearn"), dict):  # the bare estimator, without mlflow
            self.raw: Any = load_sklearn(folder, flavors["sklearn"])
            self.pyfunc = False
        else:
            import mlflow.pyfunc

            self.raw = mlflow.pyfunc.load_model(str(folder))
            self.pyfunc = True
        self.mlflow_version = str(meta.get("mlflow_version") or "")  # /version without mlflow
        self.columns = _columns(meta.get("signature") or {})
        self.array_order = _array_order(self.raw, self.columns) if not self.pyfunc else None

    def predict(self, request: protocol.Request) -> bytes:
        data = _enforce(request.data, self.columns) if self.columns else request.data
        try:
            if self.array_order is not None:  # checked above: the estimator's own order
                result = self.raw.predict(data[self.array_order].to_numpy())
            elif self.pyfunc:
                result = self.raw.predict(data, params=request.params)
            else:
                result = self.raw.predict(data)
        except protocol.BadRequest:
            raise
        except Exception as exc:
            raise protocol.BadRequest(
                "Encountered an unexpected error while evaluating the model. Verify that the "
                f"input is compatible with the model for inference. Error '{exc}'"
            ) from None
        return protocol.predictions(result)


def load_sklearn(folder: Path, flavor: dict[str, Any]) -> Any:
    """The estimator as ``mlflow.sklearn.load_model`` loads it, without mlflow: the
    flavour's ``pickled_model`` in its ``serialization_format`` (skops with the model's
    trusted types), its ``code`` folder first on sys.path, and mlflow's
    MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false honoured."""
    import sys

    allow = os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true").strip().lower()
    if allow in ("false", "0"):
        raise RuntimeError(
            "Deserializing this model is disallowed because "
            "'MLFLOW_ALLOW_PICKLE_DESERIALIZATION' is not set to 'true'."
        )
    if flavor.get("code"):
        sys.path.insert(0, str(folder / str(flavor["code"])))
    path = folder / str(flavor["pickled_model"])
    form = str(flavor.get("serialization_format") or "pickle")
    if form == "skops":
        import skops.io

        return skops.io.load(path, trusted=flavor.get("skops_trusted_types"))
    with path.open("rb") as handle:
        if form == "cloudpickle":
            import cloudpickle

            return cloudpickle.load(handle)
        if form == "pickle":
            import pickle

            return pickle.load(handle)
    raise RuntimeError(f"{folder / 'MLmodel'}: unknown serialization_format {form!r}")


def _array_order(raw: Any, columns: list[tuple[str, str, bool]]) -> list[str] | None:
    """The estimator's feature order when every input is a required double it was fitted
    on: then it predicts on a plain array, skipping pandas' per-call checks (5x faster for
    one row). None otherwise."""
    names = [str(n) for n in getattr(raw, "feature_names_in_", ())]
    numeric = all(kind == "double" and required for _n, kind, required in columns)
    if names and numeric and sorted(names) == sorted(n for n, _k, _r in columns):
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return names
    return None


def _columns(signature: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """[(name, type, required)] of a column signature; [] for tensors or none."""
    try:
        inputs = json.loads(signature.get("inputs") or "[]")
    except ValueError:
        return []
    if not all(isinstance(c, dict) and "name" in c and "type" in c for c in inputs):
        return []
    return [(str(c["name"]), str(c["type"]), bool(c.get("required", True))) for c in inputs]


def _enforce(data: Any, columns: list[tuple[str, str, bool]]) -> Any:
    """The input in the signature's columns and types; 400 naming the column otherwise."""
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(data)
    missing = [n for n, _t, req in columns if req and n not in data.columns]
    if missing:
        raise protocol.InvalidParameter(f"Model is missing inputs {missing}.")
    out = {}
    for name, kind, _req in columns:
        if name in data.columns:
            out[name] = _convert(data[name], name, kind)
    return pd.DataFrame(out, index=data.index)


def _convert(column: Any, name: str, kind: str) -> Any:
    target = _NUMERIC.get(kind)
    if target is None:
        return column
    ok = column.dtype.kind in "biuf" if target.startswith("float") else column.dtype.kind in "biu"
    if not ok:
        bad = next((v for v in column if not _is_number(v)), None)
        raise protocol.BadRequest(
            f"Incompatible input types for column '{name}': expected {kind}, "
            f"got {type(bad).__name__} value {bad!r}."
        )
    try:
        return column.astype(target)
    except (ValueError, TypeError, OverflowError) as exc:
        raise protocol.BadRequest(f"Column '{name}' expects {kind}: {exc}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _plain_rows(body: bytes, order: list[str]) -> Any:
    """The common case without pandas: ``dataframe_split`` of plain numbers in known
    columns, as an array in the estimator's order. None sends the request the general
    way, which gives every error its message."""
    import numpy as np

    try:
        payload = protocol.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or len(payload) != 1:
        return None
    split = payload.get("dataframe_split")
    if not isinstance(split, dict) or set(split) != {"columns", "data"}:
        return None
    columns, data = split["columns"], split["data"]
    if not isinstance(columns, list) or sorted(map(str, columns)) != sorted(order):
        return None
    width = len(order)
    if (
        not isinstance(data, list)
        or not data
        or not all(
            isinstance(row, list)
            and len(row) == width
            and all(type(v) in (int, float) for v in row)
            for row in data
        )
    ):
        return None
    array = np.array(data, dtype="float64")
    return array[:, [columns.index(name) for name in order]]


def serve_forever(model: Model, sock: socket.socket) -> None:
    """Answer frames until the front closes the socket (then exit)."""
    rfile = sock.makefile("rb")
    while True:
        head = rfile.read(REQUEST.size)
        if len(head) < REQUEST.size:
            os._exit(0)
        size, ctype_len = REQUEST.unpack(head)
        ctype = rfile.read(ctype_len).decode("latin-1")
        body = rfile.read(size)
        status, answer = answer_one(model, ctype, body)
        sock.sendall(ANSWER.pack(status, len(answer)) + answer)


def answer_one(model: Model, content_type: str, body: bytes) -> tuple[int, bytes]:
    try:
        if model.array_order is not None and content_type.startswith("application/json"):
            rows = _plain_rows(body, model.array_order)
            if rows is not None:
                return 200, protocol.predictions(model.raw.predict(rows))
        return 200, model.predict(protocol.parse(content_type, body))
    except protocol.BadRequest as exc:
        return exc.status, protocol.error_body(exc.error_code, str(exc))
    except Exception as exc:  # the model's own bug: the worker keeps serving
        return 500, protocol.error_body("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
