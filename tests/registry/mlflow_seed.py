"""Registry operations through the ``mlflow`` client, run by the MLflow server's own interpreter.

The tests run this file with the isolated MLflow venv's Python (``conftest.ensure_mlflow_venv``): the
project's environment cannot hold ``mlflow`` (its server needs ``graphene``, which pins
``python-dateutil<3``; ``kubernetes==37.0.2`` needs ``>=3``). A long-lived process (mlflow takes
seconds to import): the tracking URI as its argument, then requests on stdin. Not collected by pytest.
"""

import json
import sys

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def _version(client: MlflowClient, op: dict) -> dict:
    model = op["model"]
    try:
        client.create_registered_model(model)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    experiment = client.get_experiment_by_name(model)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(model)
    run = client.create_run(experiment_id)
    for key, value in op.get("metrics", {}).items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    version = client.create_model_version(
        model,
        source=f"s3://models/{model}/{run.info.run_id}",
        run_id=run.info.run_id,
        tags=op.get("tags", {}),
    )
    for alias in op.get("aliases", []):
        client.set_registered_model_alias(model, alias, version.version)
    return {"version": int(version.version), "run_id": run.info.run_id}


RESULT = "@@result "  # prefix of the answer line: mlflow prints "View run ..." lines on stdout too


def handle(client: MlflowClient, ops: list) -> list:
    results = []
    for op in ops:
        kind = op["op"]
        if kind == "version":
            results.append(_version(client, op))
        elif kind == "alias":
            client.set_registered_model_alias(op["model"], op["alias"], str(op["version"]))
            results.append({})
        elif kind == "tag":
            client.set_model_version_tag(op["model"], str(op["version"]), op["key"], op["value"])
            results.append({})
        elif kind == "delete_version":
            client.delete_model_version(op["model"], str(op["version"]))
            results.append({})
        elif kind == "delete_models":
            for model in client.search_registered_models():
                client.delete_registered_model(model.name)
            results.append({})
        else:
            raise SystemExit(f"unknown op {kind!r}")
    return results


def main() -> None:
    """One JSON request per stdin line (``{"ops": [...]}``), one ``@@result`` line per request."""
    tracking_uri = sys.argv[1]
    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    for line in sys.stdin:
        try:
            answer = {"ok": handle(client, json.loads(line)["ops"])}
        except MlflowException as exc:
            answer = {"error": f"{exc.error_code}: {exc.message}"}
        sys.stdout.write(RESULT + json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
