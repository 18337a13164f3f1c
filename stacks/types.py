"""Reusable validated types for the environment spec: names, images, schedules, units.

The patterns, limits, enums and checks are ``mlops_platform.validation``'s, shared with the
components: here they become pydantic types for the config boundary.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from mlops_platform.validation import (
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


class Target(StrEnum):
    DOCKER = "docker"
    KUBERNETES = "kubernetes"


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
