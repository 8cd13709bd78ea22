"""One worker: loads the model once, then answers framed requests on a socket.

The front process forks workers after loading the model, so a replacement starts in
milliseconds. A request frame carries one or more requests: ``!H`` (count), then for each
``!IH`` (body length, content-type length), content type, body. The worker answers each
with ``!HHI`` (its index in the frame, status, body length), body (JSON), as soon as its
prediction is done (a frame's answers may come in any order).

Several requests in one frame (``--batch``) whose inputs the worker can concatenate -- a
DataFrame with its default index, the same columns and dtypes and the same params, or
rows of the estimator's fast array path -- are predicted together once and the answer
split back by rows; a request that fails to parse or to match the signature gets its own
error, and a batch whose prediction fails, or whose result does not have one entry per
row, is predicted again one request at a time.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import protocol

FRAME = struct.Struct("!H")
REQUEST = struct.Struct("!IH")
ANSWER = struct.Struct("!HHI")
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
        return protocol.predictions(self.run(self.prepare(request), request.params))

    def prepare(self, request: protocol.Request) -> Any:
        """The input the model predicts on: the signature enforced, and for the fast
        path the estimator's own column order as a plain array."""
        data = _enforce(request.data, self.columns) if self.columns else request.data
        if self.array_order is not None:  # checked: every column is there, as a double
            return data[self.array_order].to_numpy()
        return data

    def run(self, data: Any, params: dict[str, Any] | None) -> Any:
        try:
            if self.pyfunc:
                return self.raw.predict(data, params=params)
            return self.raw.predict(data)
        except protocol.BadRequest:
            raise
        except Exception as exc:
            raise protocol.BadRequest(
                "Encountered an unexpected error while evaluating the model. Verify that the "
                f"input is compatible with the model for inference. Error '{exc}'"
            ) from None


def preload() -> None:
    """What a request needs, imported before the workers fork: every worker shares it, and
    no worker's first request pays for it (pandas alone is about a second)."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401

    protocol.parse("application/json", b'{"dataframe_split": {"columns": ["a"], "data": [[1]]}}')


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
        head = rfile.read(FRAME.size)
        if len(head) < FRAME.size:
            os._exit(0)
        (count,) = FRAME.unpack(head)
        items = []
        for _ in range(count):
            size, ctype_len = REQUEST.unpack(rfile.read(REQUEST.size))
            ctype = rfile.read(ctype_len).decode("latin-1")
            items.append((ctype, rfile.read(size)))
        if count == 1:
            status, answer = answer_one(model, *items[0])
            sock.sendall(ANSWER.pack(0, status, len(answer)) + answer)
            continue
        for answers in answer_many(model, items):
            sock.sendall(b"".join(ANSWER.pack(i, st, len(a)) + a for i, st, a in answers))


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


Answer = tuple[int, int, bytes]  # (index in the frame, status, body)


class _Part:
    """One request of a batch, ready to predict: its input and params, and what it must
    share with others to be predicted together (None: it is predicted alone)."""

    __slots__ = ("data", "index", "key", "params")

    def __init__(self, index: int, data: Any, params: Any, key: Any) -> None:
        self.index, self.data, self.params, self.key = index, data, params, key


def answer_many(model: Model, items: list[tuple[str, bytes]]) -> Iterator[list[Answer]]:
    """The answers of a batch, one list per prediction, as each is done."""
    groups: dict[Any, list[_Part]] = {}
    for index, (ctype, body) in enumerate(items):
        try:
            part = _prepare(model, index, ctype, body)
        except protocol.BadRequest as exc:
            yield [(index, exc.status, protocol.error_body(exc.error_code, str(exc)))]
        except Exception as exc:
            yield [(index, 500, protocol.error_body("INTERNAL_ERROR", f"{exc!r}"))]
        else:
            if part.key is None:
                yield [_alone(model, part)]
            else:
                groups.setdefault(part.key, []).append(part)
    for parts in groups.values():
        yield _predict_together(model, parts)


def _prepare(model: Model, index: int, ctype: str, body: bytes) -> _Part:
    import pandas as pd

    if model.array_order is not None and ctype.startswith("application/json"):
        rows = _plain_rows(body, model.array_order)
        if rows is not None:
            return _Part(index, rows, None, _rows_key(rows))
    request = protocol.parse(ctype, body)
    data = model.prepare(request)
    if not isinstance(request.data, pd.DataFrame) or not len(data):
        return _Part(index, data, request.params, None)
    if model.array_order is not None:  # rows in the estimator's order; params unused
        return _Part(index, data, None, _rows_key(data))
    index_ = data.index
    if (
        not isinstance(data, pd.DataFrame)
        or not data.columns.is_unique
        or not isinstance(index_, pd.RangeIndex)
        or index_.start != 0
        or index_.step != 1
    ):  # a model may read the index: keep it as the client sent it
        return _Part(index, data, request.params, None)
    params = request.params
    key = (
        "frame",
        tuple(map(str, data.columns)),
        tuple(map(str, data.dtypes)),
        json.dumps(params, sort_keys=True, default=str) if model.pyfunc else None,
    )
    return _Part(index, data, params, key)


def _rows_key(rows: Any) -> Any:
    return ("rows", rows.shape[1:], rows.dtype.str) if rows.ndim == 2 else None


def _predict_together(model: Model, parts: list[_Part]) -> list[Answer]:
    import numpy as np
    import pandas as pd

    if len(parts) > 1:
        first = parts[0].data
        if isinstance(first, np.ndarray):
            data = np.concatenate([p.data for p in parts])
        else:
            data = pd.concat([p.data for p in parts], ignore_index=True)
        try:
            pieces = _split(model.run(data, parts[0].params), [len(p.data) for p in parts])
        except Exception:  # one bad request must not fail the others: one by one below
            pieces = None
        if pieces is not None:
            return [
                (p.index, 200, protocol.predictions(r)) for p, r in zip(parts, pieces, strict=True)
            ]
    return [_alone(model, p) for p in parts]


def _alone(model: Model, part: _Part) -> Answer:
    try:
        return part.index, 200, protocol.predictions(model.run(part.data, part.params))
    except protocol.BadRequest as exc:
        return part.index, exc.status, protocol.error_body(exc.error_code, str(exc))
    except Exception as exc:
        return (
            part.index,
            500,
            protocol.error_body("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}"),
        )


def _split(result: Any, rows: list[int]) -> list[Any] | None:
    """The result cut back into each request's rows; None when it has not exactly one
    entry per input row (a model that aggregates cannot be batched)."""
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame | pd.Series):
        cut = result.iloc
    elif isinstance(result, list) or (isinstance(result, np.ndarray) and result.ndim >= 1):
        cut = result
    else:
        return None
    if len(result) != sum(rows):
        return None
    ends = list(itertools.accumulate(rows, initial=0))
    return [cut[a:b] for a, b in itertools.pairwise(ends)]
