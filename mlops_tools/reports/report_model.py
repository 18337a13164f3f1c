"""The JSON report read back: typed models of the document ``json_report`` writes, and its loader.

One reader for every consumer of a written report (the bench, tests, tools that compare two
audits), so that a change of shape breaks them all at once, loudly, instead of each one reading
stale keys. The models forbid unknown keys where they describe the document fully; the parts a
reader only passes along (provenance details, waivers) stay plain JSON. The
JSON Schema shipped beside the writer remains the published contract (tested against the writer,
and these models against the same documents).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mlops_platform.tools.reports.json_report import (
    MODEL_COLUMNS,
    SCHEMA_VERSION,
    SERVED_COLUMNS,
    SERVED_REQUIRED,
)

Outcome = Literal[
    "error", "fail", "warn", "waived", "partial", "not-verified", "pass", "not-applicable", "disabled"
]
FindingOutcome = Literal["error", "fail", "warn", "waived"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Counts(_Strict):
    """Per-outcome counts of the units (resources, or the stack) a rule or control judged."""

    in_scope: int
    passed: int = Field(alias="pass")  # ``pass`` is a keyword
    fail: int
    warn: int
    waived: int
    error: int
    not_applicable: int


class Summary(_Strict):
    resources: int
    policies: int
    checks: int  # applicable evaluations only
    not_applicable: int  # rule x resource pairs a rule declared out of scope
    mandatory: int
    advisory: int
    waived: int
    errors: int
    blocking: int


Observation = tuple[str, str]  # (path, value): what a rule read on a resource


class Evidence(_Strict):
    observed: list[Observation]
    more_observed: int


class Violation(_Strict):
    """A finding; its rule's frameworks and remediation are the rule's (``AuditReport.rule``)."""

    policy: str
    pack: str
    kind: Literal["violation", "policy-error", "waiver", "coverage"]
    outcome: FindingOutcome
    enforcement: str
    severity: str
    urn: str
    resource_type: str
    message: str
    waiver: dict[str, Any] | None
    spec: dict[str, Any] | None
    """``{file, line, path, default, program}``: the flags, written only when true, read as false."""
    evidence: Evidence | None

    @field_validator("spec")
    @classmethod
    def _flags_default_to_false(cls, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        if spec is None:
            return None
        return {**spec, "default": spec.get("default", False), "program": spec.get("program", False)}


class ControlEvidence(_Strict):
    policy: str
    pack: str
    coverage: Literal["full", "partial"]  # how much of the control this policy evidences
    status: Outcome
    counts: Counts


class Control(_Strict):
    framework: str
    id: str
    title: str
    status: Outcome
    applicable: bool
    not_applicable_reason: str
    missing: list[str]  # with status partial: what no passed, fully covering rule evidenced
    counts: Counts
    evidence: list[ControlEvidence]


class EvidenceRow(_Strict):
    """A resource a policy judged without finding fault (or, ``via_stack``, one a stack policy read)."""

    urn: str
    outcome: Outcome
    via_stack: bool
    observed: list[Observation]
    more_observed: int

    @property
    def resource_name(self) -> str:
        return self.urn.rsplit("::", 1)[-1] if self.urn else "stack"


class PolicyResult(_Strict):
    policy: str
    pack: str
    status: Outcome
    counts: Counts
    resources: list[EvidenceRow]
    passes_left_out: int  # passes counted, not listed (0 with --evidence full)
    stack_reads_sampled: bool


class ImageAnswer(_Strict):
    """What an image's registry answered (``supply_chain.images``)."""

    reference: str
    registry: str
    digest: str | None
    exists: bool
    error: str | None
    signature_checked: bool
    signatures: int
    verified_by: list[str]


class SupplyChain(_Strict):
    """Whether the audit consulted the image registries, and their answers."""

    consulted: bool
    images: list[ImageAnswer]


# A ``served`` entry: the values of ``served_columns``, its trailing nulls left out, ``resource`` an
# index into the model's ``resources`` (or a name not among them).
ServedRow = list[str | int | None]

ModelRow = tuple[
    str,  # name
    str,  # image
    bool,  # image_pinned_by_digest
    str | None,  # model_name
    int | None,  # model_version
    str | None,  # model_alias
    str | None,  # model_uri
    int | None,  # canary_version
    str | None,  # canary_alias
    int | None,  # canary_weight_percent (null: no canary)
    str | None,  # canary_image (null with a canary: the stable image)
    str,  # risk_tier
    str,  # data_classification
    bool,  # within_ceiling
    str,  # owner
    str | None,  # model_card_url
    str | None,  # approval_ref
    int,  # slo_p99_latency_ms
    float,  # slo_error_rate
    bool,  # drift_check_enabled
    str | None,  # drift_check_schedule
    list[str],  # resources
    int,  # monitoring_status: an index into governance_statuses
    list[str],  # monitoring_resources
    list[int | None],  # governance: indexes into governance_statuses, in the order of governance_policies
    int,  # status: an index into governance_statuses
    list[ServedRow],  # served: each serving workload's exact version (stable, canary), by served_columns
]


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One row of the model inventory, by column name (``ModelTable.records``)."""

    name: str
    image: str
    image_pinned_by_digest: bool
    model_name: str | None
    model_version: int | None
    model_alias: str | None
    model_uri: str | None
    canary_version: int | None
    canary_alias: str | None
    canary_weight_percent: int | None
    canary_image: str | None
    risk_tier: str
    data_classification: str
    within_ceiling: bool
    owner: str
    model_card_url: str | None
    approval_ref: str | None
    slo_p99_latency_ms: int
    slo_error_rate: float
    drift_check_enabled: bool
    drift_check_schedule: str | None
    resources: list[str]
    monitoring_status: str
    monitoring_resources: list[str]
    governance: dict[str, str]
    """Policy -> status, for the governance policies that gave this model a result."""
    status: str
    served: list[dict[str, Any]]
    """Each serving workload (stable, canary) and the exact version it serves as deployed."""


class ModelTable(_Strict):
    """The model inventory: ``rows`` of the values of ``columns`` (see ``json_report.MODEL_COLUMNS``)."""

    columns: list[str]
    governance_policies: list[str]
    governance_statuses: list[Outcome]
    served_columns: list[str]
    rows: list[ModelRow]

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, columns: list[str]) -> list[str]:
        if tuple(columns) != MODEL_COLUMNS:
            raise ValueError(f"the columns of this version are {', '.join(MODEL_COLUMNS)}")
        return columns

    @field_validator("served_columns")
    @classmethod
    def _known_served_columns(cls, columns: list[str]) -> list[str]:
        if tuple(columns) != SERVED_COLUMNS:
            raise ValueError(f"the served columns of this version are {', '.join(SERVED_COLUMNS)}")
        return columns

    def _status(self, model: str, at: int, what: str) -> Outcome:
        """The outcome a row's index names in ``governance_statuses``; ReportError when it names none."""
        if not 0 <= at < len(self.governance_statuses):
            raise ReportError(f"model {model!r}: {what} {at} is not in governance_statuses")
        return self.governance_statuses[at]

    def records(self) -> list[ModelRecord]:
        """Every row by column name, its governance statuses by policy."""
        records = []
        for row in self.rows:
            values: dict[str, Any] = dict(zip(MODEL_COLUMNS, row, strict=True))
            statuses = values["governance"]
            if len(statuses) != len(self.governance_policies):
                raise ReportError(
                    f"model {values['name']!r}: {len(statuses)} governance statuses for "
                    f"{len(self.governance_policies)} governance_policies"
                )
            values["governance"] = {
                p: self._status(values["name"], s, f"governance status of {p}")
                for p, s in zip(self.governance_policies, statuses, strict=True)
                if s is not None
            }
            if values["canary_weight_percent"] is not None and values["canary_image"] is None:
                values["canary_image"] = values["image"]  # the canary runs the stable image
            for column in ("monitoring_status", "status"):
                values[column] = self._status(values["name"], values[column], column)
            values["served"] = [_served(values["name"], row, values["resources"]) for row in values["served"]]
            records.append(ModelRecord(**values))
        return records

    def by_name(self) -> dict[str, ModelRecord]:
        return {record.name: record for record in self.records()}


def _served(model: str, row: ServedRow, resources: list[str]) -> dict[str, Any]:
    """A ``served`` row by column name: its left-out trailing nulls back, its resource by name."""
    if not SERVED_REQUIRED <= len(row) <= len(SERVED_COLUMNS):
        raise ReportError(
            f"model {model!r}: a served row of {len(row)} values, "
            f"not {SERVED_REQUIRED} to {len(SERVED_COLUMNS)}"
        )
    served = dict(zip(SERVED_COLUMNS, [*row, *[None] * (len(SERVED_COLUMNS) - len(row))], strict=True))
    resource = served["resource"]
    if isinstance(resource, int):
        if not 0 <= resource < len(resources):
            raise ReportError(
                f"model {model!r}: served resource {resource} is not an index into its resources"
            )
        served["resource"] = resources[resource]
    return served


class EnvironmentReport(_Strict):
    environment: str
    tier: str
    target: str
    stack_file: str
    passed: bool
    evidence: Literal["sample", "full"]
    summary: Summary
    classification_ceiling: str | None
    models: ModelTable
    controls: list[Control]
    policy_results: list[PolicyResult]
    violations: list[Violation]
    waivers: list[dict[str, Any]]
    policy_config: list[dict[str, Any]]
    supply_chain: SupplyChain | None = None  # absent from reports written before it existed


class Scope(_Strict):
    """What the audit verified and what it did not."""

    basis: str
    verified: list[str]
    not_verified: list[str]
    supply_chain: str


class Digest(_Strict):
    """The document's canonical digest (``mlops_platform.tools.reports.digest``)."""

    algorithm: Literal["sha256"]
    canonicalization: Literal["RFC 8785 (JCS)"]
    value: str


class AuditReport(_Strict):
    """A whole JSON report: one or more environments and what they share."""

    schema_version: int
    passed: bool
    scope: Scope
    provenance: dict[str, Any]
    frameworks: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    coverage: list[dict[str, Any]]
    environments: list[EnvironmentReport]
    digest: Digest

    def rule(self, pack: str, policy: str) -> dict[str, Any]:
        """The catalogue entry of ``policy`` in ``pack`` (its frameworks, remediation...).

        Raises:
            KeyError: the report lists no such rule.
        """
        for rule in self.rules:
            if (rule.get("pack"), rule.get("name")) == (pack, policy):
                return rule
        raise KeyError(f"the report lists no rule {policy!r} of {pack!r}")

    def environment(self, name: str) -> EnvironmentReport:
        """The report of environment ``name``.

        Raises:
            KeyError: the report holds no such environment.
        """
        for env in self.environments:
            if env.environment == name:
                return env
        raise KeyError(f"the report holds no environment {name!r}")


class ReportError(Exception):
    """A file is not an audit report this version can read (located: the file, the key)."""


def parse_report(text: str | bytes, *, source: str = "<report>") -> AuditReport:
    """Parse a JSON report written by ``mlops audit --format json``.

    Raises:
        ReportError: the text is not JSON, is of another schema version, or does not have the shape.
    """
    try:
        report = AuditReport.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(document)"
        raise ReportError(f"{source}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from None
    if report.schema_version != SCHEMA_VERSION:
        raise ReportError(
            f"{source}: schema_version: {report.schema_version}, this version reads {SCHEMA_VERSION}"
        )
    return report


def load_report(path: Path) -> AuditReport:
    """Read and parse the JSON report at ``path`` (see :func:`parse_report`).

    Raises:
        ReportError: unreadable, or not a report of this schema version.
    """
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ReportError(f"{path}: {exc.strerror or exc}") from None
    return parse_report(text, source=str(path))
