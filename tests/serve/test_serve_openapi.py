"""``GET /openapi.json``: an OpenAPI 3.1 document from the model's signature, validated
with openapi-spec-validator; its schemas checked against real requests with jsonschema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from labship.serving.app import openapi
from serve.http_helpers import get, post

IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def write_model(folder: Path, signature: dict[str, Any] | None) -> Path:
    lines = ["flavors:", "  python_function: {python_version: 3.11.7}", "mlflow_version: 3.17.2"]
    if signature is not None:
        lines.append("signature:")
        lines += [f"  {k}: {json.dumps(json.dumps(v))}" for k, v in signature.items()]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLmodel").write_text("\n".join(lines) + "\n")
    return folder


def request_schema(doc: dict[str, Any]) -> dict[str, Any]:
    post_ = doc["paths"]["/invocations"]["post"]
    schema: dict[str, Any] = post_["requestBody"]["content"]["application/json"]["schema"]
    return schema


def by_format(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["title"]: s["properties"][s["title"]] for s in request_schema(doc)["oneOf"]}


def check(schema: dict[str, Any], body: Any) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(body)


SIGNATURES: dict[str, dict[str, Any] | None] = {
    "none": None,
    "columns": {
        "inputs": [
            {"type": "long", "name": "n", "required": True},
            {"type": "string", "name": "s", "required": False},
            {"type": "boolean", "name": "b"},
            {"type": "datetime", "name": "t"},
            {"type": "binary", "name": "raw"},
            {"type": "array", "items": {"type": "double"}, "name": "v"},
            {"type": "object", "properties": {"k": {"type": "integer"}}, "name": "o"},
            {"type": "map", "values": {"type": "float"}, "name": "m"},
            {"type": "any", "name": "a"},
        ],
        "outputs": [{"type": "double", "name": "score"}, {"type": "string", "name": "label"}],
        "params": [
            {"name": "temperature", "type": "double", "default": 0.5, "shape": None},
            {"name": "stops", "type": "string", "default": ["x"], "shape": [-1]},
        ],
    },
    "tensor": {
        "inputs": [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 28, 28]}}],
        "outputs": [{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 10]}}],
    },
    "named-tensors": {
        "inputs": [
            {"name": "a", "type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}},
            {"name": "b", "type": "tensor", "tensor-spec": {"dtype": "str", "shape": [-1, 2]}},
        ],
    },
}


@pytest.mark.parametrize("name", list(SIGNATURES))
def test_the_document_is_valid_openapi_3_1(tmp_path: Path, name: str) -> None:
    doc = json.loads(openapi.document(write_model(tmp_path, SIGNATURES[name])))
    OpenAPIV31SpecValidator(doc).validate()
    assert set(doc["paths"]) == {"/invocations", "/ping", "/health", "/version", "/openapi.json"}
    assert set(by_format(doc)) == {"dataframe_split", "dataframe_records", "instances", "inputs"}
    for schema in request_schema(doc)["oneOf"]:  # each format is a JSON Schema of its own
        jsonschema.Draft202012Validator.check_schema(schema)


def test_column_types_become_json_schema(tmp_path: Path) -> None:
    doc = json.loads(openapi.document(write_model(tmp_path, SIGNATURES["columns"])))
    record = by_format(doc)["dataframe_records"]["items"]
    props = record["properties"]
    assert props["n"] == {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
    assert props["s"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}  # not required
    assert props["t"] == {"type": "string", "format": "date-time"}
    assert props["v"] == {"type": "array", "items": {"type": "number"}}
    assert props["m"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert "s" not in record["required"] and "n" in record["required"]
    good = {"n": 3, "s": None, "b": True, "t": "2024-01-01T00:00:00", "raw": "YQ==", "v": [1.5]}
    good |= {"o": {"k": 1}, "m": {"x": 2.0}, "a": [1, "z"]}
    body = {"dataframe_records": [good], "params": {"temperature": 0.1}}
    assert check(request_schema(doc), body)
    assert not check(request_schema(doc), {"dataframe_records": [good | {"n": "three"}]})
    assert not check(request_schema(doc), {"dataframe_records": [good], "extra": 1})
    params = request_schema(doc)["oneOf"][0]["properties"]["params"]["properties"]
    assert params["temperature"] == {"type": "number", "default": 0.5}
    assert params["stops"] == {"type": "array", "items": {"type": "string"}, "default": ["x"]}
    answer = doc["paths"]["/invocations"]["post"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    assert check(schema, {"predictions": [{"score": 0.3, "label": "a"}]})
    assert not check(schema, {"predictions": [{"score": "high", "label": "a"}]})


def test_tensors_are_nested_arrays(tmp_path: Path) -> None:
    doc = json.loads(openapi.document(write_model(tmp_path, SIGNATURES["tensor"])))
    inputs = by_format(doc)["inputs"]
    image = [[0.5] * 28] * 28
    assert check(inputs, [image, image])
    assert not check(inputs, [[[0.5] * 27] * 28])
    answer = doc["paths"]["/invocations"]["post"]["responses"]["200"]
    assert check(answer["content"]["application/json"]["schema"], {"predictions": [[0.1] * 10]})


def test_without_a_signature_the_document_is_generic(tmp_path: Path) -> None:
    doc = json.loads(openapi.document(write_model(tmp_path, None)))
    assert "no signature" in doc["info"]["description"]
    assert check(request_schema(doc), {"dataframe_split": {"columns": ["x"], "data": [["a"]]}})
    assert (
        "examples"
        not in doc["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]
    )


def test_a_saved_serving_example_is_the_example(tmp_path: Path) -> None:
    folder = write_model(tmp_path, SIGNATURES["tensor"])
    example = {"inputs": [[[0.0] * 28] * 28]}
    (folder / "serving_input_example.json").write_text(json.dumps(example))
    doc = json.loads(openapi.document(folder))
    content = doc["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]
    assert content["examples"]["signature"]["value"] == example


@pytest.mark.slow
def test_the_served_document_matches_the_iris_signature(iris_labship: str, heavy: Path) -> None:
    status, text = get(iris_labship + "/openapi.json")
    doc = json.loads(text)
    assert status == 200
    OpenAPIV31SpecValidator(doc).validate()
    mlmodel = (heavy / "models" / "iris" / "MLmodel").read_text()
    import yaml

    signature = json.loads(yaml.safe_load(mlmodel)["signature"]["inputs"])
    record = by_format(doc)["dataframe_records"]["items"]
    assert (
        [c["name"] for c in signature] == IRIS == list(record["properties"]) == record["required"]
    )
    assert all(c["type"] == "double" for c in signature)
    assert all(s == {"type": "number"} for s in record["properties"].values())
    split = by_format(doc)["dataframe_split"]
    assert split["properties"]["columns"]["items"] == {"enum": IRIS}
    content = doc["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]
    example = content["examples"]["signature"]["value"]
    assert check(request_schema(doc), example)
    assert not check(request_schema(doc), {"dataframe_records": [{IRIS[0]: "wide"}]})
    status, answer = post(iris_labship, example)
    assert status == 200
    ok = doc["paths"]["/invocations"]["post"]["responses"]["200"]["content"]["application/json"]
    assert check(ok["schema"], answer) and not check(ok["schema"], {"predictions": ["setosa"]})
    status, error = post(iris_labship, {"dataframe_records": [{IRIS[0]: 1.0}]})
    assert status == 400 and check(doc["components"]["schemas"]["Error"], error)
