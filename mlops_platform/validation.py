"""The validators the environment spec and the components share: patterns, limits, enums, checks.

One place for what a valid name, image, schedule or tier is, so the spec schema
(``mlops_platform.stacks.types``, at the config boundary) and the components (at construction, for
programs that build them directly) accept and refuse the same values with the same messages.
Names follow what the targets require: Kubernetes object names are DNS-1123 labels, Services
DNS-1035 labels; both are at most 63 characters, and components append role suffixes
(``-canary``, ``-metadata-db``...), so endpoint names are capped lower to leave room.

Imports nothing of this project and no Pulumi: packs, schema and components may all use it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TypeVar

DNS_LABEL_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"  # DNS-1035 label: also valid DNS-1123
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"  # S3/MinIO bucket naming rules
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$"  # Kubernetes label value
# registry/path:tag, registry/path@sha256:digest or both; the registry host is required.
IMAGE_PATTERN = (
    r"^(?P<registry>[a-z0-9.-]+(:[0-9]+)?)/(?P<path>[a-z0-9._/-]+)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
# A registry host with an optional port and path: where an organisation mirrors public images.
REGISTRY_PREFIX_PATTERN = r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$"
VERSION_PATTERN = r"^[0-9]+(\.[0-9]+){0,2}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"
HTTPS_URL_PATTERN = r"^https://[^\s]+$"
# Five-field cron (minute hour day-of-month month day-of-week), as Kubernetes CronJobs accept.
_CRON_FIELD = r"(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?(,(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?)*"
CRON_PATTERN = rf"^{_CRON_FIELD}( {_CRON_FIELD}){{4}}$"

DNS_LABEL_MAX = 63
ENDPOINT_NAME_MAX = 40
"""A model's name, the stem of its children's names (``<name>-canary-pdb``...): 63 less the longest suffix."""
LABEL_VALUE_MAX = 63
ALERT_AFTER_MAX_S = 86_400  # an alert's `for` of at most a day: longer hides the incident it exists for
PORT_MIN, PORT_MAX = 1, 65535

PATTERN_MESSAGES = {
    DNS_LABEL_PATTERN: "must be a DNS label: lowercase letters, digits and '-', starting with a letter",
    BUCKET_PATTERN: "must be a bucket name: 3-63 lowercase letters, digits, '.' or '-'",
    LABEL_VALUE_PATTERN: "must be a valid label value: letters, digits, '-', '_' or '.'",
    IMAGE_PATTERN: "must be an image reference with a registry: registry/path:tag or @sha256:<digest>",
    REGISTRY_PREFIX_PATTERN: "must be a registry host, optional port and path: registry.acme.internal/mirror",
    VERSION_PATTERN: "must be a pinned version such as 16.4",
    CRON_PATTERN: "must be a five-field cron schedule such as '0 2 * * *'",
    EMAIL_PATTERN: "must be an email address such as team@example.com",
    HTTPS_URL_PATTERN: "must be an https:// URL",
}
"""What each pattern means, for people: the spec's and the components' messages alike."""


class Target(StrEnum):
    """Where a layer's resources run: the spec's ``environment.target``, the components' ``target``."""

    DOCKER = "docker"
    KUBERNETES = "kubernetes"


class Tier(StrEnum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


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


class AccessMode(StrEnum):
    """Kubernetes PersistentVolumeClaim access modes a shared volume may ask for."""

    READ_WRITE_ONCE = "ReadWriteOnce"
    READ_WRITE_MANY = "ReadWriteMany"
    READ_ONLY_MANY = "ReadOnlyMany"


class RegistryAuth(StrEnum):
    """How the image registry authenticates pushes and pulls."""

    HTPASSWD = "htpasswd"
    NONE = "none"


class ReceiverKind(StrEnum):
    """Where Alertmanager sends an alert."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    SLACK = "slack"


# --- checks: each returns the value or raises ValueError with the message people see ---------------


def matches(value: str, pattern: str, *, max_length: int | None = None) -> str:
    """``value`` if it matches ``pattern`` (and fits ``max_length``), else ValueError in plain words."""
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters (got {len(value)}: {value!r})")
    if not re.fullmatch(pattern, value):
        raise ValueError(f"{PATTERN_MESSAGES.get(pattern, f'must match {pattern}')} (got {value!r})")
    return value


_IMAGE = re.compile(IMAGE_PATTERN)


def require_tag_or_digest(image: str) -> str:
    """An image reference that names a tag or a digest (the pattern alone allows neither)."""
    match = _IMAGE.match(image)
    if match and not (match["tag"] or match["digest"]):
        raise ValueError("must name a tag or a digest (registry/path:tag or registry/path@sha256:...)")
    return image


# Official MLflow server images without a PostgreSQL driver (psycopg2) or an S3 client (boto3): with
# the platform's PostgreSQL backend the server crash-loops on "No module named 'psycopg2'"
# (mlflow/mlflow#9513, open since 2023; #20926 and docker-hardened-images/catalog#298 in 2026).
# The maintainers point to the official ``-full`` variant, which carries the extras.
MLFLOW_IMAGES_WITHOUT_DRIVERS = ("ghcr.io/mlflow/mlflow", "docker.io/mlflow/mlflow", "dhi.io/mlflow")


def mlflow_server_image(image: str) -> str:
    """An MLflow server image that can reach the platform's PostgreSQL backend and S3 artifact store."""
    match = _IMAGE.match(image)
    if match is None:
        return image
    repository = f"{match['registry']}/{match['path']}"
    if repository in MLFLOW_IMAGES_WITHOUT_DRIVERS and not (match["tag"] or "").endswith("-full"):
        raise ValueError(
            f"{repository} has no PostgreSQL driver (psycopg2) nor S3 client (boto3), so the server "
            "crash-loops on the platform's database (mlflow/mlflow#9513): use its '-full' variant, or an "
            "image with mlflow, psycopg2-binary and boto3 (`python -m mlops_platform.tools.images build "
            f"mlflow-server` builds one) (got {image!r})"
        )
    return image


# (name, low, high) of each cron field, as Kubernetes CronJobs (robfig/cron) accept them.
_CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)


def cron_in_range(schedule: str) -> str:
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


def bucket_name_rules(name: str) -> str:
    """The S3 naming rules a pattern cannot say well: no ``..``, no ``.-``/``-.``, not an IP address."""
    if ".." in name or ".-" in name or "-." in name:
        raise ValueError(f"bucket names must not contain '..', '.-' or '-.' (got {name!r})")
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", name):
        raise ValueError(f"bucket names must not be formatted as an IP address (got {name!r})")
    return name


def dns_label(value: str, *, max_length: int = DNS_LABEL_MAX) -> str:
    return matches(value, DNS_LABEL_PATTERN, max_length=max_length)


def image_ref(value: str) -> str:
    return require_tag_or_digest(matches(value, IMAGE_PATTERN))


def mlflow_server_image_ref(value: str) -> str:
    return mlflow_server_image(image_ref(value))


E = TypeVar("E", bound=StrEnum)


def choice(value: object, enum: type[E]) -> E:
    """The member of ``enum`` spelled ``value``, else ValueError listing the allowed spellings."""
    try:
        return enum(str(value)) if isinstance(value, str) else enum(value)  # type: ignore[arg-type]
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise ValueError(f"must be one of {allowed} (got {value!r})") from None


def within(value: float, low: float | None = None, high: float | None = None) -> float:
    """``value`` if ``low <= value <= high`` (either bound may be left open), else ValueError."""
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"<= {high}" if low is None else f"between {low} and {high}"
        raise ValueError(f"must be {bounds} (got {value!r})")
    return value


def fraction(value: float) -> float:
    """A ratio strictly between 0 and 1 (error rates, drift thresholds)."""
    if not 0 < value < 1:
        raise ValueError(f"must be between 0 and 1, exclusive (got {value!r})")
    return value


def min_le_max(low: int, high: int, *, high_name: str = "max") -> None:
    """A minimum is at most its maximum (replicas, requests and limits)."""
    if low > high:
        raise ValueError(f"must be <= {high_name} ({low} > {high})")
