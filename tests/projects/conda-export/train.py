"""Train a churn classifier on synthetic data and report its accuracy."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from tabulate import tabulate

seed = int(os.environ.get("RANDOM_SEED", "0"))
X, y = make_classification(n_samples=400, n_features=6, random_state=seed)
frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
X_train, X_test, y_train, y_test = train_test_split(frame, y, random_state=seed)
model = LogisticRegression().fit(X_train, y_train)
accuracy = model.score(X_test, y_test)
sns.histplot(frame["f0"])
plt.savefig(os.devnull, format="png")
print(tabulate([["pandas", pd.__version__], ["accuracy", f"{accuracy:.2f}"]]))
