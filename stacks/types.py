"""Reusable validated types for the environment spec: names, images, schedules, units.

Names follow what the targets require: Kubernetes object names are DNS-1123 labels, Services
DNS-1035 labels; both are at most 63 characters, and components append role suffixes
(``-canary``, ``-metadata-db``...), so endpoint names are capped lower to leave room.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

DNS_LABEL_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"  # DNS-1035 label: also valid DNS-1123
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"  # S3/MinIO bucket naming rules
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"  # Kubernetes label value
# registry/path:tag, registry/path@sha256:digest or both; the registry host is required.
IMAGE_PATTERN = (
    r"^(?P<registry>[a-z0-9.-]+(:[0-9]+)?)/(?P<path>[a-z0-9._/-]+)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
VERSION_PATTERN = r"^[0-9]+(\.[0-9]+){0,2}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
HTTPS_URL_PATTERN = r"^https://[^\s]+$"
# Five-field cron (minute hour day-of-month month day-of-week), as Kubernetes CronJobs accept.
_CRON_FIELD = r"(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?(,(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?)*"
CRON_PATTERN = rf"^{_CRON_FIELD}( {_CRON_FIELD}){{4}}$"


class Tier(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class Target(StrEnum):
    DOCKER = "docker"
    KUBERNETES = "kubernetes"


class DataClassification(StrEnum):
    """Ordered from least to most sensitive; see ``rank``."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        return list(DataClassification).index(self)


class RiskTier(StrEnum):
    """Risk of a model's use, after the EU AI Act's categories (unacceptable uses are never served)."""

    MINIMAL = "minimal"
    LIMITED = "limited"
    HIGH = "high"


def _has_tag_or_digest(image: str) -> str:
    match = re.match(IMAGE_PATTERN, image)
    if match and not (match["tag"] or match["digest"]):
        raise ValueError("must name a tag or a digest (registry/path:tag or registry/path@sha256:...)")
    return image


# (name, low, high) of each cron field, as Kubernetes CronJobs (robfig/cron) accept them.
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)


def _cron_in_range(schedule: str) -> str:
    """Every value, range and step of a five-field schedule within its field (no minute 60, no ``*/0``)."""
    for text, (field, low, high) in zip(schedule.split(" "), _CRON_FIELDS, strict=True):
        for part in text.split(","):
            span, _, step = part.partition("/")
            if step and int(step) == 0:
                raise ValueError(f"cron {field}: a step of 0 never fires (got {part!r} in {schedule!r})")
            if span == "*":
                continue
            first, _, last = span.partition("-")
            bounds = (int(first), int(last or first))
            for value in bounds:
                if not low <= value <= high:
                    raise ValueError(f"cron {field} must be {low}-{high} (got {value} in {schedule!r})")
            if bounds[0] > bounds[1]:
                raise ValueError(f"cron {field}: range {span} runs backwards (in {schedule!r})")
    return schedule


def _bucket_name_rules(name: str) -> str:
    """The S3 naming rules a pattern cannot say well: no ``..``, no ``.-``/``-.``, not an IP address."""
    if ".." in name or ".-" in name or "-." in name:
        raise ValueError(f"bucket names must not contain '..', '.-' or '-.' (got {name!r})")
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", name):
        raise ValueError(f"bucket names must not be formatted as an IP address (got {name!r})")
    return name


DnsLabel = Annotated[str, StringConstraints(max_length=63, pattern=DNS_LABEL_PATTERN)]
EndpointName = Annotated[str, StringConstraints(max_length=40, pattern=DNS_LABEL_PATTERN)]
LabelValue = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=LABEL_VALUE_PATTERN)]
BucketName = Annotated[str, StringConstraints(pattern=BUCKET_PATTERN), AfterValidator(_bucket_name_rules)]
ImageRef = Annotated[str, StringConstraints(pattern=IMAGE_PATTERN), AfterValidator(_has_tag_or_digest)]
Cron = Annotated[str, StringConstraints(pattern=CRON_PATTERN), AfterValidator(_cron_in_range)]
PinnedVersion = Annotated[str, StringConstraints(pattern=VERSION_PATTERN)]
Email = Annotated[str, StringConstraints(pattern=EMAIL_PATTERN, max_length=254)]
HttpsUrl = Annotated[str, StringConstraints(pattern=HTTPS_URL_PATTERN, max_length=2048)]
Port = Annotated[int, Field(ge=1, le=65535)]
Fraction = Annotated[float, Field(gt=0, lt=1)]
SizeGib = Annotated[int, Field(ge=1, le=65536)]
Days = Annotated[int, Field(ge=1, le=3650)]
