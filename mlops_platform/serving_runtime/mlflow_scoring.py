"""The one adapter to MLflow: resolve the pinned version, load it, build MLflow's own scoring app.

``mlflow.pyfunc.scoring_server.init`` is what ``mlflow models serve`` runs: a FastAPI app answering
``/invocations`` in MLflow's scoring protocol with MLflow's parsing, schema enforcement, error bodies
and request timeout. It is not documented public API, so this module checks the MLflow version it was
written for and refuses another (``MLFLOW_VERSION``, the runtime group's pin in pyproject.toml).
Everything else used here is public: ``MlflowClient.get_model_version_by_alias``,
``mlflow.pyfunc.load_model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlflow
import mlflow.pyfunc
from mlflow import MlflowClient
from mlflow.pyfunc import scoring_server

from mlops_platform.serving_runtime.settings import ALIAS_URI, VERSION_URI, Settings

MLFLOW_VERSION = "3.17.2"  # = pyproject.toml's runtime pin; scoring_server.init checked against it


class MlflowVersionError(RuntimeError):
    """The image holds another MLflow than the one the scoring adapter was written for."""


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    uri: str
    """What was loaded: ``models:/<name>/<version>`` (an alias resolved), or the ad-hoc URI."""
    registered_model: str
    version: str
    """The registry version, empty for an ad-hoc URI."""


def check_version() -> None:
    if mlflow.__version__ != MLFLOW_VERSION:
        raise MlflowVersionError(
            f"mlflow {mlflow.__version__} is installed; the scoring adapter was written for {MLFLOW_VERSION} "
            "(mlflow.pyfunc.scoring_server.init is not public API): install the runtime group's pins"
        )


def resolve(settings: Settings) -> ServedModel:
    """Pin the version to serve: an alias is read once, so a pod serves one version for its whole life."""
    if match := ALIAS_URI.match(settings.model_uri):
        name = match["name"]
        version = MlflowClient(tracking_uri=settings.tracking_uri).get_model_version_by_alias(
            name, match["alias"]
        )
        return ServedModel(
            uri=f"models:/{name}/{version.version}", registered_model=name, version=str(version.version)
        )
    if match := VERSION_URI.match(settings.model_uri):
        return ServedModel(uri=settings.model_uri, registered_model=match["name"], version=match["version"])
    return ServedModel(uri=settings.model_uri, registered_model="", version="")


def load(settings: Settings) -> tuple[Any, ServedModel]:
    """MLflow's scoring app over the loaded model, and what was loaded."""
    check_version()
    mlflow.set_tracking_uri(settings.tracking_uri)
    served = resolve(settings)
    model = mlflow.pyfunc.load_model(served.uri)
    return scoring_server.init(model), served
