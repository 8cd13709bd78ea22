"""The training data: synthetic, so the story needs no download."""

from sklearn.datasets import make_classification


def load(seed: int = 7):
    return make_classification(n_samples=400, n_features=8, random_state=seed)
