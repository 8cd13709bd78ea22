"""The same requests to real ``mlflow models serve`` and to ``labship serve`` over HTTP:
the same status codes, the same predictions, the same error codes."""

from __future__ import annotations

from typing import Any

import pytest

from serve.http_helpers import get, post

pytestmark = pytest.mark.slow

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 2.8, 4.3, 1.3]]
CSV = ",".join(COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS) + "\n"

CASES: list[tuple[str, Any, str]] = [
    ("split", {"dataframe_split": {"columns": COLUMNS, "data": ROWS}}, "application/json"),
    (
        "split-ints",
        {"dataframe_split": {"columns": COLUMNS, "data": [[5, 3, 1, 0]]}},
        "application/json",
    ),
    (
        "split-reordered",
        {"dataframe_split": {"columns": COLUMNS[::-1], "data": [r[::-1] for r in ROWS]}},
        "application/json",
    ),
    (
        "split-bool",
        {"dataframe_split": {"columns": COLUMNS, "data": [[True, 3.5, 1.4, 0.2]]}},
        "application/json",
    ),
    (
        "split-index",
        {"dataframe_split": {"index": [7, 8, 9], "columns": COLUMNS, "data": ROWS}},
        "application/json",
    ),
    (
        "records",
        {"dataframe_records": [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]},
        "application/json",
    ),
    (
        "instances-records",
        {"instances": [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]},
        "application/json",
    ),
    (
        "inputs-columns",
        {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLUMNS)}},
        "application/json",
    ),
    ("csv", CSV, "text/csv"),
    (
        "charset",
        {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
        "application/json; charset=utf-8",
    ),
    (
        "missing-column",
        {"dataframe_split": {"columns": COLUMNS[:3], "data": [r[:3] for r in ROWS]}},
        "application/json",
    ),
    (
        "wrong-type",
        {"dataframe_split": {"columns": COLUMNS, "data": [["x", 3.5, 1.4, 0.2]]}},
        "application/json",
    ),
    (
        "two-keys",
        {"dataframe_split": {"columns": COLUMNS, "data": ROWS}, "instances": []},
        "application/json",
    ),
    ("no-key", {"data": ROWS}, "application/json"),
    ("not-json", "{not json", "application/json"),
]


@pytest.mark.parametrize(("name", "body", "ctype"), CASES, ids=[c[0] for c in CASES])
def test_same_answers_as_mlflow(
    iris_mlflow: str, iris_labship: str, name: str, body: Any, ctype: str
) -> None:
    want_status, want = post(iris_mlflow, body, ctype)
    got_status, got = post(iris_labship, body, ctype)
    assert got_status == want_status, (name, want, got)
    if want_status == 200:
        assert got == want
    else:
        assert isinstance(got, dict) and set(got) == {"error_code", "message"}
        assert got["error_code"] == want["error_code"]


def test_health_ping_version(iris_mlflow: str, iris_labship: str) -> None:
    for path in ("/ping", "/health"):
        assert get(iris_labship + path)[0] == get(iris_mlflow + path)[0] == 200
    assert get(iris_labship + "/version") == get(iris_mlflow + "/version")


def test_a_bad_payload_names_the_column_and_its_type(iris_labship: str) -> None:
    body = {"dataframe_split": {"columns": COLUMNS, "data": [[5.1, "wide", 1.4, 0.2]]}}
    status, answer = post(iris_labship, body)
    assert status == 400
    assert answer["error_code"] == "BAD_REQUEST"
    assert "'sepal width (cm)'" in answer["message"] and "double" in answer["message"]
    status, answer = post(iris_labship, {"dataframe_records": [{"sepal length (cm)": 5.1}]})
    assert status == 400 and "petal width (cm)" in answer["message"]
