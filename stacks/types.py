"""Reusable validated types for the environment spec: names, images, schedules, units.

The patterns, limits, enums and checks are ``mlops_platform.validation``'s, shared with the
components: here they become pydantic types for the config boundary.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

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


BOOLEAN_NOT_NUMBER = "a boolean is not a number here (true and false are never 1 and 0): write the number"


def _not_a_boolean(value: Any) -> Any:
    """A before-validator of every number in the spec: ``value``, unless it is a boolean.

    pydantic's lax mode reads ``true`` as 1 for an ``int`` field (``weight: true`` became a 1 % canary,
    ``version: true`` version 1); YAML's booleans are never numbers in this spec. Attached to the number
    types themselves (:data:`NOT_A_BOOLEAN`), so it runs only where a number is wanted: a ``"*"``
    field validator ran on every field of every model and looked into every list and mapping below
    it, 90% of validating a 2,000-model spec (``tests/stacks/test_boolean_numbers.py`` checks that
    every number of the spec has it).

    Raises:
        ValueError: :data:`BOOLEAN_NOT_NUMBER`.
    """
    if value is True or value is False:
        raise ValueError(BOOLEAN_NOT_NUMBER)
    return value


NOT_A_BOOLEAN = BeforeValidator(_not_a_boolean)
"""The last item of every number type's ``Annotated[...]``: ``Annotated[int, Field(ge=1), NOT_A_BOOLEAN]``.

Last, so that pydantic-core checks the bounds itself; a constraint after a validator function is
checked by a Python function per value (195,000 calls at 20,000 models)."""


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
Port = Annotated[int, Field(ge=PORT_MIN, le=PORT_MAX), NOT_A_BOOLEAN]
Fraction = Annotated[float, Field(gt=0, lt=1), NOT_A_BOOLEAN]
SizeGib = Annotated[int, Field(ge=1, le=65536), NOT_A_BOOLEAN]
Days = Annotated[int, Field(ge=1, le=3650), NOT_A_BOOLEAN]
AlertAfterSeconds = Annotated[int, Field(ge=0, le=ALERT_AFTER_MAX_S), NOT_A_BOOLEAN]
"""How long a condition must hold before its alert fires (the Prometheus rule's ``for``), in seconds."""
