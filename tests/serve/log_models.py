"""Run in the heavy environment: log the saved iris model into a run of a tracking server,
register it as version 1 of a model (alias ``champion``), and log two more folders,
``broken/`` and ``partial/``, each holding an MLmodel file. Prints the run id."""

import sys
from pathlib import Path

import mlflow
import mlflow.sklearn
from mlflow.models import Model


def main(uri: str, folder: Path, name: str, scratch: Path) -> None:
    mlflow.set_tracking_uri(uri)
    model = mlflow.sklearn.load_model(str(folder))
    requirements = (folder / "requirements.txt").read_text().split()
    signature = Model.load(str(folder)).signature
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            pip_requirements=requirements,
            registered_model_name=name,
        )
        for folder_name in ("broken", "partial"):
            (scratch / folder_name).mkdir(parents=True, exist_ok=True)
            (scratch / folder_name / "MLmodel").write_text("flavors: {}\n")
            mlflow.log_artifacts(str(scratch / folder_name), artifact_path=folder_name)
    mlflow.MlflowClient().set_registered_model_alias(name, "champion", "1")
    print(run.info.run_id)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
