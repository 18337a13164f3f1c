"""Run in the platform's runtime image as a Job: train and register demonstration models.

``python demo_train.py`` with ``MLFLOW_TRACKING_URI`` (the platform's MLflow Service) and
``DEMO_MODELS`` (``name:versions,...``, e.g. ``fraud-scorer:2,churn-predictor:1``). The data is
generated here, seeded; every version of every model is a Ridge regression fitted on its own target,
so versions answer differently. Alias ``champion`` points at each model's version 1. Prints one
``DEMO-RESULT <json>`` line: the test rows, each version's predictions on them, and where MLflow says
each version's artifacts are. Runs only in that image (mlflow, scikit-learn): not imported by the package.
"""

from __future__ import annotations

import json
import os

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import Ridge

COLUMNS = ["amount", "age", "score", "tenure"]


def wanted(text: str) -> list[tuple[str, int]]:
    """``a:2,b:1`` -> ``[("a", 2), ("b", 1)]``."""
    pairs = [item.split(":") for item in text.split(",") if item.strip()]
    return [(name.strip(), int(count)) for name, count in pairs]


def main() -> None:
    rng = np.random.default_rng(11)
    train = pd.DataFrame(rng.normal(size=(400, len(COLUMNS))), columns=COLUMNS)
    test = pd.DataFrame(rng.normal(size=(8, len(COLUMNS))), columns=COLUMNS)
    client = MlflowClient()
    mlflow.set_experiment("demo")
    versions = []
    for name, count in wanted(os.environ["DEMO_MODELS"]):
        for version in range(1, count + 1):
            weights = rng.normal(scale=2.0, size=len(COLUMNS))
            target = train @ weights + rng.normal(scale=0.1, size=len(train))
            model = Ridge(alpha=0.5).fit(train, target)
            with mlflow.start_run() as run:
                mlflow.log_metric("r2", float(model.score(train, target)))
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    registered_model_name=name,
                    signature=infer_signature(train, model.predict(train)),
                )
            registered = str(info.registered_model_version)
            if registered != str(version):
                raise SystemExit(f"{name}: registered as version {registered}, expected {version}")
            versions.append(
                {
                    "name": name,
                    "version": str(version),
                    "run_id": run.info.run_id,
                    "source": client.get_model_version(name, str(version)).source,
                    "artifact_location": mlflow.get_logged_model(info.model_id).artifact_location,
                    "predictions": model.predict(test).tolist(),
                }
            )
        client.set_registered_model_alias(name, "champion", "1")
    result = {"columns": COLUMNS, "rows": test.to_numpy().tolist(), "versions": versions}
    print("DEMO-RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
