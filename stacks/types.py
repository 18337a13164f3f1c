"""Reusable validated types for the environment spec: names, images, schedules, units.

The patterns, limits, enums and checks are ``mlops_platform.validation``'s, shared with the
components: here they become pydantic types for the config boundary.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints
from pydantic.fields import FieldInfo

from mlops_platform.validation import (
    ALERT_AFTER_MAX_S,
    BUCKET_PATTERN,
    CRON_PATTERN,
    DNS_LABEL_MAX,
    DNS_LABEL_PATTERN,
    EMAIL_PATTERN,
    ENDPOINT_NAME_MAX,
    HTTPS_URL_PATTERN,
    IMAGE_PATTERN,
    LABEL_VALUE_MAX,
    LABEL_VALUE_PATTERN,
    PORT_MAX,
    PORT_MIN,
    REGISTRY_PREFIX_PATTERN,
    VERSION_PATTERN,
    AccessMode,
    DataClassification,
    ReceiverKind,
    RegistryAuth,
    RiskTier,
    Target,
    Tier,
    bucket_name_rules,
    cron_in_range,
    mlflow_server_image,
    require_tag_or_digest,
)

__all__ = [
    "BUCKET_PATTERN",
    "CRON_PATTERN",
    "DNS_LABEL_PATTERN",
    "EMAIL_PATTERN",
    "HTTPS_URL_PATTERN",
    "IMAGE_PATTERN",
    "LABEL_VALUE_PATTERN",
    "REGISTRY_PREFIX_PATTERN",
    "VERSION_PATTERN",
    "AccessMode",
    "DataClassification",
    "ReceiverKind",
    "RegistryAuth",
    "RiskTier",
    "Target",
    "Tier",
]


DnsLabel = Annotated[str, StringConstraints(max_length=DNS_LABEL_MAX, pattern=DNS_LABEL_PATTERN)]
EndpointName = Annotated[str, StringConstraints(max_length=ENDPOINT_NAME_MAX, pattern=DNS_LABEL_PATTERN)]
LabelValue = Annotated[
    str, StringConstraints(min_length=1, max_length=LABEL_VALUE_MAX, pattern=LABEL_VALUE_PATTERN)
]
BucketName = Annotated[str, StringConstraints(pattern=BUCKET_PATTERN), AfterValidator(bucket_name_rules)]
ImageRef = Annotated[str, StringConstraints(pattern=IMAGE_PATTERN), AfterValidator(require_tag_or_digest)]
MlflowServerImage = Annotated[ImageRef, AfterValidator(mlflow_server_image)]
RegistryPrefix = Annotated[str, StringConstraints(pattern=REGISTRY_PREFIX_PATTERN, max_length=255)]
Cron = Annotated[str, StringConstraints(pattern=CRON_PATTERN), AfterValidator(cron_in_range)]
PinnedVersion = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
Email = Annotated[str, StringConstraints(pattern=EMAIL_PATTERN, max_length=254)]
HttpsUrl = Annotated[str, StringConstraints(pattern=HTTPS_URL_PATTERN, max_length=2048)]
Port = Annotated[int, Field(ge=PORT_MIN, le=PORT_MAX)]
Fraction = Annotated[float, Field(gt=0, lt=1)]
SizeGib = Annotated[int, Field(ge=1, le=65536)]
Days = Annotated[int, Field(ge=1, le=3650)]
AlertAfterSeconds = Annotated[int, Field(ge=0, le=ALERT_AFTER_MAX_S)]
"""How long a condition must hold before its alert fires (the Prometheus rule's ``for``), in seconds."""


def _accepts_bool(annotation: Any) -> bool:
    """Whether a field's type takes a boolean as itself (``bool``, ``Any``), not as a number."""
    if annotation is bool or annotation is Any:
        return True
    return any(_accepts_bool(arg) for arg in typing.get_args(annotation) if not isinstance(arg, FieldInfo))


def _number_slots(annotation: Any) -> bool:
    """Whether a value of this type may hold an int or float somewhere (a boolean would become one)."""
    if annotation in (int, float):
        return True
    return any(_number_slots(arg) for arg in typing.get_args(annotation) if not isinstance(arg, FieldInfo))


def boolean_as_number(annotation: Any, value: Any) -> bool:
    """Whether ``value`` holds a boolean where ``annotation`` wants a number.

    pydantic's lax mode reads ``true`` as 1 for an ``int`` field (``weight: true`` became a 1 % canary,
    ``version: true`` version 1); YAML's booleans are never numbers in this spec. Lists and mappings
    are looked into; nested models check their own fields.
    """
    if isinstance(value, bool):
        return _number_slots(annotation) and not _accepts_bool(annotation)
    if isinstance(value, list):
        return any(boolean_as_number(_item_type(annotation, 0), v) for v in value)
    if isinstance(value, dict):
        return any(boolean_as_number(_item_type(annotation, -1), v) for v in value.values())
    return False


def _item_type(annotation: Any, position: int) -> Any:
    """The element type of a list (``position`` 0) or the value type of a dict (-1) inside ``annotation``."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if not isinstance(a, FieldInfo)]
    if origin in (list, dict, tuple, set, frozenset) and args:
        return args[position]
    for arg in args:  # a Union or Annotated around the container
        inner = _item_type(arg, position)
        if inner is not None:
            return inner
    return None


BOOLEAN_NOT_NUMBER = "a boolean is not a number here (true and false are never 1 and 0): write the number"


def refuse_boolean_numbers(model: type[Any], field: str | None, value: Any) -> Any:
    """A ``field_validator("*", mode="before")`` body: ``value``, unless it is a boolean for a number.

    Raises:
        ValueError: :data:`BOOLEAN_NOT_NUMBER`.
    """
    info = model.model_fields.get(field) if field is not None else None
    if info is not None and boolean_as_number(info.annotation, value):
        raise ValueError(BOOLEAN_NOT_NUMBER)
    return value
