"""Train: the classic template's job."""

import os

import pandas as pd

seed = int(os.environ["RANDOM_SEED"])
frame = pd.DataFrame({"x": range(10)}).sample(frac=1.0, random_state=seed)
print(f"trained on {len(frame)} rows for {os.environ['DB_USER']}@{os.environ['DB_HOST']}")
