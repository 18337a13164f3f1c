"""Spec models for consulting an external model registry (issue 15), referenced from ``schema.py``.

``environment.registry_source`` names the MLflow tracking server whose registry the program asks,
at preview and up time, which version each model's alias points to; ``governance.metric_thresholds``
declares what the served version's logged metrics must meet. Credentials are *names of Pulumi secret
config keys* (``pulumi config set --secret mlflowToken ...``), never values.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from mlops_platform.stacks.types import NOT_A_BOOLEAN
from mlops_platform.thresholds import parse_threshold

_HTTP_URL_RE = re.compile(r"^https?://[^\s/@]+(/[^\s]*)?$")


def _http_url(url: str) -> str:
    """An http(s) URL without ``user:password@``; the message never echoes the value (it may hold one)."""
    if not _HTTP_URL_RE.match(url):
        raise ValueError(
            "must be an http:// or https:// URL without user:password@ (credentials go in token_secret "
            "or username + password_secret)"
        )
    return url


ConfigKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=128)]
MetricName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-/ ]{1,250}$")]


def _threshold(text: str) -> str:
    parse_threshold(text)  # raises ValueError with the expected format
    return text


ThresholdText = Annotated[str, AfterValidator(_threshold)]
MetricThresholds = dict[MetricName, ThresholdText]
"""Metric name -> comparison the served version's run metric must satisfy (``auc: ">= 0.92"``)."""


class RegistrySource(BaseModel):
    """The MLflow tracking server whose model registry resolves aliases to versions."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    kind: Literal["mlflow"] = "mlflow"
    """Registry kind: an MLflow tracking server (the only one supported)."""
    tracking_uri: Annotated[str, StringConstraints(max_length=2048), AfterValidator(_http_url)]
    """Base URL of the tracking server (``https://mlflow.acme.example``); REST API under ``/api/2.0``."""
    token_secret: ConfigKey | None = None
    """Pulumi secret config key holding a bearer token."""
    username: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    """Basic-auth user name (with ``password_secret``)."""
    password_secret: ConfigKey | None = None
    """Pulumi secret config key holding the basic-auth password."""
    timeout_s: Annotated[float, Field(gt=0, le=120), NOT_A_BOOLEAN] = 10.0
    """Timeout of each request to the registry, in seconds."""

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if self.token_secret is not None and (self.username or self.password_secret):
            raise ValueError("set token_secret or username with password_secret, not both")
        if (self.username is None) != (self.password_secret is None):
            raise ValueError("username and password_secret go together")
        return self
