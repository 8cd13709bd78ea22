"""The server's OpenAPI 3.1 document, built once at start-up from the MLmodel file.

``POST /invocations`` takes MLflow's request formats; with a signature their schemas
come from its columns (or tensors) and params, MLflow's types as JSON Schema, and the
answer's ``predictions`` from its outputs. Without a signature the document is the same
but generic: any values. ``GET /ping``, ``/health``, ``/version`` and ``/openapi.json``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from . import protocol

Schema = dict[str, Any]

INT32 = 2**31
# MLflow's DataType names (mlflow.types.DataType) as JSON values: what a client sends.
SCALARS: dict[str, Schema] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer", "minimum": -INT32, "maximum": INT32 - 1},
    "long": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "string": {"type": "string"},
    "binary": {"type": "string", "contentEncoding": "base64"},
    "datetime": {"type": "string", "format": "date-time"},
    "any": {},
}
ERROR: Schema = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {
        "error_code": {
            "type": "string",
            "examples": ["BAD_REQUEST", "INVALID_PARAMETER_VALUE", "TEMPORARILY_UNAVAILABLE"],
        },
        "message": {"type": "string"},
    },
}
FAILURES = {
    "400": "the payload does not fit the model: the message names the column and type",
    "413": "the body is larger than the server takes",
    "415": "a content type other than application/json or text/csv",
    "500": "the model failed, or its worker died (it was replaced)",
    "503": "the server is at capacity: retry later",
    "504": "the prediction took longer than the server's timeout",
}


def document(folder: Path) -> bytes:
    """The document for the model in ``folder``, as JSON."""
    import yaml

    meta = yaml.safe_load((folder / "MLmodel").read_text(encoding="utf-8")) or {}
    signature = meta.get("signature") or {}
    inputs = _spec(signature.get("inputs"))
    example = _example(folder, inputs)
    return protocol.dumps(build(meta, inputs, _spec(signature.get("outputs")), example))


def build(
    meta: dict[str, Any],
    inputs: list[dict[str, Any]] | None,
    outputs: list[dict[str, Any]] | None,
    example: Any,
) -> Schema:
    signature = meta.get("signature") or {}
    params = _params(_spec(signature.get("params")))
    flavors = ", ".join(sorted(meta.get("flavors") or {})) or "none"
    described = "from its signature" if inputs else "generic: the model has no signature"
    body: Schema = {"oneOf": _formats(inputs or [], params)}
    json_content: Schema = {"schema": body}
    if example is not None:
        json_content["examples"] = {"signature": {"summary": "one request", "value": example}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"MLflow model {meta.get('model_uuid') or ''}".strip(),
            "version": str(meta.get("mlflow_version") or "unknown"),
            "description": (
                f"An MLflow model (flavors: {flavors}) served by labship with MLflow's "
                f"scoring protocol. Request schemas: {described}."
            ),
        },
        "paths": {
            "/invocations": {
                "post": {
                    "summary": "Predict",
                    "operationId": "invocations",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": json_content,
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "responses": {
                        "200": _json(
                            "the predictions, one per input row",
                            {
                                "type": "object",
                                "required": ["predictions"],
                                "properties": {"predictions": _predictions(outputs or [])},
                            },
                        ),
                        **{
                            code: _json(why, {"$ref": "#/components/schemas/Error"})
                            for code, why in FAILURES.items()
                        },
                    },
                }
            },
            "/ping": {"get": _plain("ping", "the server is up")},
            "/health": {"get": _plain("health", "the server is up")},
            "/version": {
                "get": {
                    "operationId": "version",
                    "responses": {"200": _json("MLflow's version", {"type": "string"})},
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "responses": {"200": _json("this document", {"type": "object"})},
                }
            },
        },
        "components": {"schemas": {"Error": ERROR}},
    }


def _json(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _plain(operation: str, description: str) -> Schema:
    return {"operationId": operation, "responses": {"200": {"description": description}}}


def _spec(raw: Any) -> list[dict[str, Any]] | None:
    """A signature part (a JSON string in MLmodel) as a list of specs; None if absent."""
    if raw is None:
        return None
    try:
        specs = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        return None
    return specs


def value_schema(spec: dict[str, Any]) -> Schema:
    """One column's (or property's) MLflow type as JSON Schema."""
    kind = spec.get("type")
    if kind == "array":
        return {"type": "array", "items": value_schema(spec.get("items") or {})}
    if kind == "object":
        props = spec.get("properties") or {}
        return {
            "type": "object",
            "properties": {name: value_schema(p) for name, p in props.items()},
            "required": [name for name, p in props.items() if p.get("required", True)],
        }
    if kind == "map":
        return {"type": "object", "additionalProperties": value_schema(spec.get("values") or {})}
    if kind == "tensor":
        tensor = spec.get("tensor-spec") or {}
        return _tensor(str(tensor.get("dtype", "")), list(tensor.get("shape") or []))
    return dict(SCALARS.get(str(kind), {}))


def _tensor(dtype: str, shape: list[int]) -> Schema:
    """Nested arrays of the tensor's shape (-1: any length)."""
    if dtype.startswith(("float", "double")):
        schema: Schema = {"type": "number"}
    elif dtype.startswith(("int", "uint")):
        schema = {"type": "integer"}
    elif dtype == "bool":
        schema = {"type": "boolean"}
    elif dtype.startswith(("str", "object", "bytes")):
        schema = {"type": "string"}
    else:
        schema = {}
    for size in reversed(shape):
        schema = {"type": "array", "items": schema}
        if isinstance(size, int) and size >= 0:
            schema["minItems"] = schema["maxItems"] = size
    return schema


def _column(spec: dict[str, Any]) -> Schema:
    schema = value_schema(spec)
    return schema if spec.get("required", True) else {"anyOf": [schema, {"type": "null"}]}


def _formats(specs: list[dict[str, Any]], params: Schema) -> list[Schema]:
    """The four JSON request formats, each an object with one input key (and params)."""
    named = [s for s in specs if "name" in s]
    tensors = bool(specs) and all(s.get("type") == "tensor" for s in specs)
    if named and not tensors and len(named) == len(specs):  # a column signature
        columns = {str(s["name"]): _column(s) for s in named}
        required = [str(s["name"]) for s in named if s.get("required", True)]
        record = {"type": "object", "properties": columns, "required": required}
        cells = _one_of_distinct(list(columns.values()))
        split = {
            "type": "object",
            "required": ["columns", "data"],
            "properties": {
                "columns": {"type": "array", "items": {"enum": list(columns)}, "uniqueItems": True},
                "index": {"type": "array"},
                "data": {"type": "array", "items": {"type": "array", "items": cells}},
            },
        }
        by_column = {
            "type": "object",
            "properties": {n: {"type": "array", "items": c} for n, c in columns.items()},
            "required": required,
        }
        instances: Schema = {"type": "array", "items": record}
        inputs: Schema = {"oneOf": [instances, by_column]}
        records: Schema = instances
    elif tensors:  # one tensor (unnamed) or several named ones; the first axis is the batch
        split = {"type": "object", "required": ["data"]}
        records = {"type": "array", "items": {"type": "object"}}
        if len(specs) == 1 and "name" not in specs[0]:
            inputs = value_schema(specs[0])
            instances = inputs
        else:
            inputs = {
                "type": "object",
                "properties": {str(s.get("name")): value_schema(s) for s in specs},
            }
            instances = {"type": "array", "items": {"type": "object"}}
    else:  # no signature: any values
        split = {
            "type": "object",
            "required": ["data"],
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "index": {"type": "array"},
                "data": {"type": "array", "items": {"type": "array"}},
            },
        }
        records = {"type": "array", "items": {"type": "object"}}
        instances = {"type": "array"}
        inputs = {"type": ["array", "object"]}
    shapes = {
        "dataframe_split": split,
        "dataframe_records": records,
        "instances": instances,
        "inputs": inputs,
    }
    return [
        {
            "title": key,
            "type": "object",
            "required": [key],
            "properties": {key: schema, "params": params},
            "additionalProperties": False,
        }
        for key, schema in shapes.items()
    ]


def _one_of_distinct(schemas: list[Schema]) -> Schema:
    distinct: list[Schema] = []
    for schema in schemas:
        if schema not in distinct:
            distinct.append(schema)
    return distinct[0] if len(distinct) == 1 else {"anyOf": distinct}


def _params(specs: list[dict[str, Any]] | None) -> Schema:
    """The signature's params (name, type, default, shape); MLflow ignores unknown ones."""
    if not specs:
        return {"type": "object"}
    props: dict[str, Schema] = {}
    for spec in specs:
        schema = value_schema({"type": spec.get("type")})
        if spec.get("shape") is not None:
            schema = {"type": "array", "items": schema}
        if spec.get("default") is not None:
            schema["default"] = spec["default"]
        props[str(spec.get("name"))] = schema
    return {"type": "object", "properties": props}


def _predictions(specs: list[dict[str, Any]]) -> Schema:
    """``predictions`` from the signature's outputs: one entry per input row."""
    if len(specs) == 1 and specs[0].get("type") == "tensor":
        return value_schema(specs[0])
    if len(specs) == 1:
        one = _column(specs[0])
        name = specs[0].get("name")
        if name is None:
            return {"type": "array", "items": one}
        row = {"type": "object", "properties": {str(name): one}}
        return {"type": "array", "items": {"anyOf": [one, row]}}
    if specs and all("name" in s for s in specs):
        columns = {str(s["name"]): _column(s) for s in specs}
        return {"type": "array", "items": {"type": "object", "properties": columns}}
    return {}


def _example(folder: Path, inputs: list[dict[str, Any]] | None) -> Any:
    """The model's own serving example (``serving_input_example.json``, which MLflow
    saves with an input example), or one row made from the column signature."""
    saved = folder / "serving_input_example.json"
    if saved.is_file():
        try:
            return json.loads(saved.read_text(encoding="utf-8"))
        except ValueError:
            pass
    if not inputs or not all("name" in s and s.get("type") != "tensor" for s in inputs):
        return None
    names = [str(s["name"]) for s in inputs]
    row = [sample(value_schema(s)) for s in inputs]
    return {"dataframe_split": {"columns": names, "data": [row]}}


def sample(schema: Schema) -> Any:
    """A value that the schema accepts."""
    kind = schema.get("type")
    if "anyOf" in schema:
        return sample(schema["anyOf"][0])
    if kind == "boolean":
        return True
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "string":
        if schema.get("contentEncoding") == "base64":
            return base64.b64encode(b"a").decode()
        return "2024-01-01T00:00:00" if schema.get("format") == "date-time" else "a"
    if kind == "array":
        return [sample(schema.get("items") or {})] * max(1, int(schema.get("minItems", 1)))
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: sample(p) for name, p in props.items()}
    return None
