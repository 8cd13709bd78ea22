"""The example job: fit a model on a small table and say how well it does."""

import os

import pandas as pd
import sqlalchemy
from sklearn.linear_model import LogisticRegression

seed = int(os.environ["RANDOM_SEED"])
frame = pd.DataFrame({"x": range(40)}).sample(frac=1.0, random_state=seed)
frame["y"] = (frame["x"] >= 20).astype(int)
model = LogisticRegression().fit(frame[["x"]], frame["y"])
accuracy = model.score(frame[["x"]], frame["y"])
print(f"db: {os.environ['DB_USER']}@{os.environ['DB_HOST']}/{os.environ['DB_NAME']}")
print(f"pandas {pd.__version__}, sqlalchemy {sqlalchemy.__version__}")
print(f"accuracy: {accuracy:.2f} on {len(frame)} rows")
