"""MLflow's scoring protocol: request bodies to a model input, predictions to JSON.

Mirrors ``mlflow models serve``: a JSON object with exactly one of ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs`` (and optional ``params``), or CSV;
the answer is ``{"predictions": ...}``, an error ``{"error_code": ..., "message": ...}``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

try:  # orjson when the environment has it (labship installs it), json otherwise
    import orjson

    def dumps(obj: Any) -> bytes:
        out: bytes = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY, default=_default)
        return out

    def loads(data: bytes) -> Any:
        return orjson.loads(data)

except ImportError:  # pragma: no cover - the environment always has orjson

    def dumps(obj: Any) -> bytes:
        return json.dumps(obj, default=_default).encode()

    def loads(data: bytes) -> Any:
        return json.loads(data)


INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class BadRequest(Exception):
    """A payload the model cannot take: 400 with MLflow's error body."""

    status = 400
    error_code = "BAD_REQUEST"


class InvalidParameter(BadRequest):
    """What MLflow reports as its own exception: a schema the input does not match."""

    error_code = "INVALID_PARAMETER_VALUE"


class UnsupportedMedia(BadRequest):
    status = 415


@dataclass(frozen=True)
class Request:
    data: Any  # a DataFrame, or what MLflow hands a tensor model (arrays, dicts)
    params: dict[str, Any] | None


def error_body(error_code: str, message: str) -> bytes:
    return dumps({"error_code": error_code, "message": message})


def parse(content_type: str, body: bytes) -> Request:
    """The model input of one request; BadRequest names what is wrong."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "text/csv":
        return Request(_csv(body), None)
    if kind != "application/json":
        raise UnsupportedMedia(
            f"This predictor only supports the following content types: "
            f"Types: ['text/csv', 'application/json']. Got '{content_type}'."
        )
    try:
        payload = loads(body)
    except ValueError as exc:
        raise BadRequest(f"Invalid input. Ensure the input is a valid JSON object: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequest(_shape_message())
    keys = [k for k in INPUT_KEYS if k in payload]
    extra = set(payload) - set(INPUT_KEYS) - {"params"}
    if len(keys) != 1 or extra:
        raise BadRequest(_shape_message())
    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest("Failed to parse params: params must be a JSON object.")
    return Request(_input(keys[0], payload[keys[0]]), params)


def _shape_message() -> str:
    return (
        "Invalid input. The input must be a JSON dictionary with exactly one of the "
        f"input fields {set(INPUT_KEYS)}"
    )


def _csv(body: bytes) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(body))
    except Exception as exc:  # pandas raises many kinds for a broken CSV
        raise BadRequest(f"Failed to parse input as a Pandas DataFrame: {exc}") from None


def _input(key: str, value: Any) -> Any:
    import pandas as pd

    try:
        if key == "dataframe_split":
            if not isinstance(value, dict) or "data" not in value:
                raise BadRequest("dataframe_split needs a 'data' list (and 'columns')")
            return pd.DataFrame(
                data=value["data"], columns=value.get("columns"), index=value.get("index")
            )
        if key == "dataframe_records":
            if not isinstance(value, list):
                raise BadRequest("dataframe_records needs a list of records")
            return pd.DataFrame.from_records(value) if value else pd.DataFrame()
    except BadRequest:
        raise
    except Exception as exc:
        raise BadRequest(f"Failed to parse input as a Pandas DataFrame: {exc}") from None
    return _tensor(key, value)


def _tensor(key: str, value: Any) -> Any:
    """``instances`` / ``inputs``: records become a DataFrame, lists an array."""
    import numpy as np
    import pandas as pd

    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return pd.DataFrame.from_records(value)
    if isinstance(value, dict):
        return pd.DataFrame({k: v if isinstance(v, list) else [v] for k, v in value.items()})
    try:
        return np.array(value)
    except ValueError as exc:
        raise BadRequest(f"Failed to parse '{key}' as an array: {exc}") from None


def predictions(result: Any) -> bytes:
    """MLflow's answer for what the model returned."""
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return dumps({"predictions": result.to_dict(orient="records")})
    if isinstance(result, pd.Series):
        return dumps({"predictions": result.to_list()})
    if isinstance(result, np.ndarray):
        return dumps({"predictions": result.tolist()})
    return dumps({"predictions": result})


def _default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialize {type(obj).__name__}")
