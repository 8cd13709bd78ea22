"""Facts about labship's containers, in one place: the image (Dockerfile), the docker
runtime and the compose files all read them from here."""

from __future__ import annotations

APP_DIR = "/app"  # code/, notebooks/ baked in (prod) or mounted (dev)
VENV = "/opt/venv"  # the locked environment
VENV_BIN = f"{VENV}/bin"
CONDA_PREFIX = "/opt/labship/conda"  # the conda lock's records, when [conda] is on
APP_UID = 10001  # the prod image's own non-root user
LAB_PORT = 8888  # JupyterLab inside the container; the host port is the user's choice
MOUNTED = ("code", "data", "notebooks")  # bind-mounted into dev containers
LAB_COMMAND = (
    "jupyter",
    "lab",
    "--ip=0.0.0.0",
    f"--port={LAB_PORT}",
    "--no-browser",
    f"--ServerApp.root_dir={APP_DIR}",
)
# The MLflow tracking server's container ([services] mlflow): its port, where its store
# is mounted (the project's .labship/mlflow), and the name the lab reaches it by.
MLFLOW_PORT = 5000
MLFLOW_DATA = "/mlflow"
MLFLOW_HOST = "mlflow"
# Host headers MLflow accepts (its default is localhost and private IPs, not a name).
MLFLOW_ALLOWED_HOSTS = (
    f"{MLFLOW_HOST},{MLFLOW_HOST}:{MLFLOW_PORT},localhost,localhost:*,127.0.0.1,127.0.0.1:*"
)
# What `labship run --image` needs to run a pushed image without the project (JSON):
JOBS_LABEL = "org.labship.jobs"  # {"job": ["argv", ...]}
# {"required": [...], "secret": [...], "defaults": {...}}: names and the spec's variables,
# never a profile's values
ENV_LABEL = "org.labship.env"
