"""The model server that runs inside the model's own environment.

Only the standard library, the model's packages (pandas, numpy, scikit-learn, mlflow)
and orjson are used here, and never labship: these files are copied beside the
environment and run there (``python -m labship_serve.server``).
"""
