"""Train the churn model; log it to MLflow and the results database when they are there."""

import os
import sys
from pathlib import Path

import joblib
from dotenv import load_dotenv
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
from churn.data import load

load_dotenv()
X, y = load()
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
model = LogisticRegression(max_iter=500).fit(X_train, y_train)
accuracy = model.score(X_test, y_test)

out = Path("models")
out.mkdir(exist_ok=True)
joblib.dump(model, out / "churn.joblib")
print(f"accuracy: {accuracy:.2f}")

if os.environ.get("MLFLOW_TRACKING_URI"):
    import mlflow

    with mlflow.start_run():
        mlflow.log_metric("accuracy", accuracy)
        mlflow.log_artifact(str(out / "churn.joblib"))
    print("logged to", os.environ["MLFLOW_TRACKING_URI"])
if os.environ.get("RESULTS_DB_URL"):
    import psycopg2

    with psycopg2.connect(os.environ["RESULTS_DB_URL"]) as conn, conn.cursor() as cur:
        cur.execute("insert into runs (accuracy) values (%s)", (accuracy,))
print("stores:", "aws key set" if os.environ.get("AWS_ACCESS_KEY_ID") else "none")
