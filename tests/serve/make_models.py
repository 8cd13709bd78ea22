"""Run in the cached mlflow environment: save the two test models.

iris: scikit-learn LogisticRegression with a signature (mlflow.sklearn.save_model).
tricky: a pyfunc model that doubles ``x``, sleeps ``sleep`` seconds or dies on ``crash``,
with iris's requirements, so both are served from one environment.
"""

import os
import sys
import time
from pathlib import Path

import mlflow.pyfunc
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


class Tricky(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        if "crash" in model_input.columns:
            os._exit(3)
        if "sleep" in model_input.columns:
            time.sleep(float(model_input["sleep"].iloc[0]))
        return model_input["x"] * 2


def main(out: Path) -> None:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    signature = infer_signature(X, model.predict(X))
    mlflow.sklearn.save_model(model, str(out / "iris"), signature=signature)
    requirements = (out / "iris" / "requirements.txt").read_text().split()
    mlflow.pyfunc.save_model(
        str(out / "tricky"), python_model=Tricky(), pip_requirements=requirements
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
