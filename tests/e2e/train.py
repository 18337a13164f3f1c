"""A training job as a team would run it in the cluster: trains, logs and registers models to MLflow.

Run in the platform's runtime image with ``MLFLOW_TRACKING_URI`` set to the platform's registry. For
each ``name:seed`` argument it generates a data set of its own (two features, a label depending on
them with a seed-dependent weight), fits a logistic regression, logs it with a parameter and a
metric, registers it as the next version of ``name`` and prints one JSON line per version: the
version, its run id and the model's probabilities for ``PROBE`` (what a served version must answer).
"""

from __future__ import annotations

import json
import sys

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

PROBE = [[0.5, -1.0], [2.0, 0.25]]
COLUMNS = ["f0", "f1"]


def train(name: str, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(400, 2))
    weight = 1.0 + seed % 5
    labels = (weight * features[:, 0] - features[:, 1] + rng.normal(scale=0.3, size=400) > 0).astype(int)
    frame = pd.DataFrame(features, columns=COLUMNS)
    model = LogisticRegression().fit(frame, labels)
    mlflow.set_experiment(name)
    with mlflow.start_run() as run:
        mlflow.log_param("seed", seed)
        mlflow.log_metric("accuracy", float(model.score(frame, labels)))
        mlflow.sklearn.log_model(model, name="model", input_example=frame.head(2))
    source = f"runs:/{run.info.run_id}/model"
    version = mlflow.register_model(source, name)
    MlflowClient().set_model_version_tag(name, version.version, "seed", str(seed))
    probabilities = model.predict_proba(pd.DataFrame(PROBE, columns=COLUMNS))[:, 1].tolist()
    return {
        "name": name,
        "version": int(version.version),
        "run_id": run.info.run_id,
        "predictions": model.predict(pd.DataFrame(PROBE, columns=COLUMNS)).tolist(),
        "probabilities": probabilities,
    }


def main(argv: list[str]) -> int:
    for argument in argv:
        name, seed = argument.split(":")
        print(json.dumps(train(name, int(seed))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
