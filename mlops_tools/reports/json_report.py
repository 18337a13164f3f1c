"""The JSON report: the machine-readable audit, stable across runs apart from ``provenance.generated_at``.

One shape for one or many environments, described by the versioned JSON Schema shipped beside this
module (``schema/audit-report.v<SCHEMA_VERSION>.json``, tested): ``environments`` is a list in the order
audited; the rule catalogue, frameworks and coverage matrix appear once. Per environment: ``summary``,
``models`` (the inventory: a table of ``columns``, ``governance_policies``, ``served_columns`` and
``rows``), ``controls`` (each with ``framework``, ``id``, ``title``, ``status``, per-outcome counts and
the policies that evidence it), ``policy_results`` (per policy the resources judged with their observed
values), ``violations`` (every finding, worst first, with its ``kind`` and ``outcome``) and ``waivers``.
Summary counts: ``mandatory`` = blocking findings left unwaived (policy errors apart), ``advisory`` =
non-blocking unwaived ones, ``waived``, ``errors`` = policies that raised. Each violation has ``spec``
(``{file, line, path, default, program}``: the stack file line, the tier default's or the program's that
produced it; null for waiver problems) and ``evidence`` (what the rule observed on the resource); its
rule's frameworks and remediation are in ``rules[]``; ``policy_config`` lists the policy config files
used, with their SHA-256; ``supply_chain`` whether the image registries were consulted and what each
image's registry answered. ``scope`` states what the audit verified and what it did not; ``digest`` is
the SHA-256 of the document's RFC 8785 form without the digest (``mlops report sign`` / ``verify``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

from mlops_platform.tools.reports.digest import with_digest
from mlops_platform.tools.reports.outcomes import OUTCOMES

SCHEMA_VERSION = 4
SCHEMA_FILE = f"audit-report.v{SCHEMA_VERSION}.json"

# The model inventory as a table (version 3): one row per model, these columns in this order. As
# objects (version 2) the keys were 55% of a 1,000-model inventory, and each model listed its twenty
# governance results as ``{"policy": ..., "status": ...}``: here the policies are named once
# (``governance_policies``) and each row holds their statuses in that order, as indexes into
# ``governance_statuses`` (null: no result for this model). The environment's
# ``classification_ceiling`` is no longer repeated per model. Version 4: ``canary_image`` is null
# where the canary runs the stable image (the spec's default), ``monitoring_status`` and ``status`` are
# indexes into ``governance_statuses`` like the governance statuses, and ``served`` is a table (below).
MODEL_COLUMNS = (
    "name",
    "image",
    "image_pinned_by_digest",
    "model_name",
    "model_version",
    "model_alias",
    "model_uri",
    "canary_version",
    "canary_alias",
    "canary_weight_percent",
    "canary_image",
    "risk_tier",
    "data_classification",
    "within_ceiling",
    "owner",
    "model_card_url",
    "approval_ref",
    "slo_p99_latency_ms",
    "slo_error_rate",
    "drift_check_enabled",
    "drift_check_schedule",
    "resources",
    "monitoring_status",
    "monitoring_resources",
    "governance",
    "status",
    "served",
)

# A violation names its rule; what belongs to the rule (its frameworks, its remediation, of which a
# violation repeated the first sentence) is in ``rules[]`` once, and ``spec.text`` is ``file:line: path``.
_VIOLATION_KEYS = (
    "policy",
    "pack",
    "kind",
    "outcome",
    "enforcement",
    "severity",
    "urn",
    "resource_type",
    "message",
    "waiver",
)
_SPEC_KEYS = ("file", "line", "path", "default", "program")
# Flags written only when true: false for nearly every violation (31 bytes each, 28 KB at 1,000 models);
# ``SpecLocation(**spec)`` reads them as it did (both default to false there).
_SPEC_FLAGS = ("default", "program")
# Each serving workload of a model (the inventory's ``served`` column, version 4) as a row of these
# values: as objects (version 3) their keys were 8% of the 1,000-model report. ``resource`` is an index
# into the model's ``resources`` (the workload is one of them; a name where it is not), and a row
# leaves out its trailing nulls (the registry's answers, when none was consulted).
SERVED_COLUMNS = (
    "track",
    "resource",
    "model_uri",
    "model_source",
    "version",
    "requested",
    "resolution",
    "registry",
    "run_id",
    "artifact_source",
    "artifact_digest",
)
SERVED_REQUIRED = SERVED_COLUMNS.index("resolution") + 1  # the values never null, and before them
# Statuses in the inventory (its governance statuses, ``monitoring_status`` and ``status``) are
# indexes into this list (``governance_statuses``).
GOVERNANCE_STATUSES = OUTCOMES


def schema() -> dict[str, Any]:
    """The JSON Schema of the report this module writes."""
    text = files("mlops_platform.tools.reports").joinpath("schema", SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def environment_document(view: dict[str, Any]) -> dict[str, Any]:
    return {
        "environment": view["environment"],
        "tier": view["tier"],
        "target": view["target"],
        "stack_file": view["stack_file"],
        "passed": view["passed"],
        "evidence": view["evidence"],
        "summary": view["summary"],
        "classification_ceiling": view["classification_ceiling"],
        "models": model_table(view["models"]),
        "controls": view["controls"],
        **_results_and_violations(view),
        "waivers": view["waivers"],
        "policy_config": view["policy_config"],
        "supply_chain": view["supply_chain"],
    }


def _results_and_violations(view: dict[str, Any]) -> dict[str, Any]:
    """``policy_results`` and ``violations``, each resource's evidence written once.

    A resource that a rule found fault with has its observed values on its violations
    (``evidence``); the rule's ``resources`` list the others it judged (the passes sample, and what a
    stack rule read). At 1,000 generated models every failing resource was written twice, its URN
    and outcome in both lists.
    """
    rows = {
        (result["pack"], result["policy"], row["urn"]): row
        for result in view["policy_results"]
        for row in result["resources"]
        if not row["via_stack"]
    }
    faulted = {(f["pack"], f["policy"], f["urn"]) for f in view["findings"]}
    results = [
        {
            **{k: v for k, v in result.items() if k not in ("findings", "resources")},
            "resources": [
                _evidence_row(row)
                for row in result["resources"]
                if row["via_stack"] or (result["pack"], result["policy"], row["urn"]) not in faulted
            ],
        }
        for result in view["policy_results"]
    ]
    violations = []
    for f in view["findings"]:
        row = rows.get((f["pack"], f["policy"], f["urn"]))
        spec = f["spec"]
        violations.append(
            {
                **{key: f[key] for key in _VIOLATION_KEYS},
                "spec": None if spec is None else _spec(spec),
                "evidence": None
                if row is None
                else {"observed": _pairs(row["observed"]), "more_observed": row["more_observed"]},
            }
        )
    # ``resources`` before ``passes_left_out``, as in version 2
    ordered = [{k: r[k] for k in ("policy", "pack", "status", "counts", "resources")} | r for r in results]
    return {"policy_results": ordered, "violations": violations}


def _spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A violation's spec location; ``default`` and ``program`` only when true (version 4)."""
    return {key: spec[key] for key in _SPEC_KEYS if key not in _SPEC_FLAGS or spec[key]}


def _evidence_row(row: dict[str, Any]) -> dict[str, Any]:
    """An evidence row without its resource's name (the URN's last part; ``stack`` for ``""``)."""
    return {
        "urn": row["urn"],
        "outcome": row["outcome"],
        "via_stack": row["via_stack"],
        "observed": _pairs(row["observed"]),
        "more_observed": row["more_observed"],
    }


def _pairs(observed: list[dict[str, str]]) -> list[list[str]]:
    return [[o["path"], o["value"]] for o in observed]


def model_table(models: list[dict[str, Any]]) -> dict[str, Any]:
    """The inventory rows of the view (``inventory.model_rows``) as the report's table."""
    policies = sorted({g["policy"] for m in models for g in m["governance"]})
    rows = []
    for m in models:
        ref, canary = m["model"], m["canary"] or {}
        statuses = {g["policy"]: g["status"] for g in m["governance"]}
        row = {
            "name": m["name"],
            "image": m["image"],
            "image_pinned_by_digest": m["image_pinned_by_digest"],
            "model_name": ref["name"],
            "model_version": ref["version"],
            "model_alias": ref["alias"],
            "model_uri": ref["uri"],
            "canary_version": canary.get("version"),
            "canary_alias": canary.get("alias"),
            "canary_weight_percent": canary.get("weight_percent"),
            # null with a canary: the stable image (the spec's default), as a quarter of them run
            "canary_image": None if canary.get("image") == m["image"] else canary.get("image"),
            "risk_tier": m["risk_tier"],
            "data_classification": m["data_classification"],
            "within_ceiling": m["within_ceiling"],
            "owner": m["owner"],
            "model_card_url": m["model_card_url"],
            "approval_ref": m["approval_ref"],
            "slo_p99_latency_ms": m["slo"]["p99_latency_ms"],
            "slo_error_rate": m["slo"]["error_rate"],
            "drift_check_enabled": m["drift_check"]["enabled"],
            "drift_check_schedule": m["drift_check"]["schedule"],
            "resources": m["resources"],
            "monitoring_status": GOVERNANCE_STATUSES.index(m["monitoring"]["status"]),
            "monitoring_resources": m["monitoring"]["resources"],
            "governance": [
                None if p not in statuses else GOVERNANCE_STATUSES.index(statuses[p]) for p in policies
            ],
            "status": GOVERNANCE_STATUSES.index(m["status"]),
            "served": [_served_row(served, m["resources"]) for served in m["served"]],
        }
        rows.append([row[column] for column in MODEL_COLUMNS])
    return {
        "columns": list(MODEL_COLUMNS),
        "governance_policies": policies,
        "governance_statuses": list(GOVERNANCE_STATUSES),
        "served_columns": list(SERVED_COLUMNS),
        "rows": rows,
    }


def _served_row(served: dict[str, Any], resources: list[str]) -> list[Any]:
    """One ``served`` entry as a row of ``SERVED_COLUMNS``, its resource by index, trailing nulls left out."""
    row = [served[column] for column in SERVED_COLUMNS]
    at = SERVED_COLUMNS.index("resource")
    if row[at] in resources:
        row[at] = resources.index(row[at])
    while len(row) > SERVED_REQUIRED and row[-1] is None:
        row.pop()
    return row


def iter_json(report: dict[str, Any]) -> Iterator[str]:
    """The JSON report in pieces, for writing as it is encoded (never the whole text in memory)."""
    document = {
        "schema_version": SCHEMA_VERSION,
        "passed": report["passed"],
        "scope": report["scope"],
        "provenance": report["provenance"],
        "frameworks": report["frameworks"],
        "rules": report["rules"],
        "coverage": report["coverage"],
        "environments": [environment_document(v) for v in report["environments"]],
    }
    # Compact: a machine format (pretty-printing made the 1,000-model report 45% larger); ``jq .``
    # or ``python -m json.tool`` indents it for reading.
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    yield from encoder.iterencode(with_digest(document))
    yield "\n"


def render_json(report: dict[str, Any]) -> str:
    return "".join(iter_json(report))
