"""A model folder without mlflow or scikit-learn: the sklearn flavour pickling a plain
class from the folder's ``code`` (the worker puts it on sys.path), so its environment is
only the server's own packages and builds in seconds. It doubles ``x``; a ``sleep``
column makes it sleep that many seconds first."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

TOY = """
import time


class Toy:
    def predict(self, data):
        if "sleep" in data.columns:
            time.sleep(float(data["sleep"].iloc[0]))
        return [float(v) * 2 for v in data["x"]]
"""

MLMODEL = """\
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
  sklearn:
    pickled_model: model.pkl
    serialization_format: pickle
    code: code
mlflow_version: 3.17.2
"""


def make_toy(folder: Path) -> Path:
    """The model folder, written once (its environment is keyed by its requirements)."""
    if (folder / "MLmodel").is_file():
        return folder
    (folder / "code").mkdir(parents=True, exist_ok=True)
    (folder / "code" / "labship_toy.py").write_text(TOY)
    sys.path.insert(0, str(folder / "code"))
    try:
        import labship_toy

        (folder / "model.pkl").write_bytes(pickle.dumps(labship_toy.Toy()))
    finally:
        sys.path.remove(str(folder / "code"))
        sys.modules.pop("labship_toy", None)
    (folder / "python_env.yaml").write_text("python: '3.11'\n")
    (folder / "requirements.txt").write_text("pandas\n")
    (folder / "MLmodel").write_text(MLMODEL)
    return folder
