"""Run in the runtime venv: train two scikit-learn versions of a model and register them in MLflow.

``python train_models.py <tracking-uri> <model-name> <out.json>``. The data is generated here
(seeded); version 1 and version 2 are fitted on different targets so that their predictions differ;
alias ``champion`` points at version 2. The JSON holds the test batch and each version's own
``predict`` output on it, which the server's answers must equal.
"""

from __future__ import annotations

import json
import sys

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import Ridge

COLUMNS = ["amount", "age", "score"]


def main(tracking_uri: str, name: str, out: str) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    rng = np.random.default_rng(7)
    train = pd.DataFrame(rng.normal(size=(500, 3)), columns=COLUMNS)
    test = pd.DataFrame(rng.normal(size=(16, 3)), columns=COLUMNS)
    targets = {
        "1": train @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=500),
        "2": train @ np.array([-3.0, 0.25, 4.0]) + rng.normal(scale=0.1, size=500),
    }
    expected = {}
    for version, target in targets.items():
        model = Ridge(alpha=0.5).fit(train, target)
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=name,
                signature=infer_signature(train, model.predict(train)),
            )
        assert str(info.registered_model_version) == version, info.registered_model_version
        expected[version] = model.predict(test).tolist()
    MlflowClient().set_registered_model_alias(name, "champion", "2")
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"columns": COLUMNS, "rows": test.to_numpy().tolist(), "predictions": expected}, handle)


if __name__ == "__main__":
    main(*sys.argv[1:4])
