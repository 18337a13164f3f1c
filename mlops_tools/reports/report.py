"""The report-level view over every environment: provenance, one rule catalogue, the coverage matrix.

Environment views (:mod:`mlops_platform.tools.reports.view`) hold what one audit established; this
adds what belongs to the report once: the provenance of the run (with the generation time, the only
value that differs between two runs on the same inputs), the rule catalogue with each rule's
enforcement per environment (rules are the same code in every environment, only levels differ),
the frameworks used with their editions, and the control x environment coverage matrix.
"""

from __future__ import annotations

from typing import Any

from mlops_platform.policies.controls import FRAMEWORKS
from mlops_platform.tools.provenance import Provenance
from mlops_platform.tools.reports.scope import SIGN_OFF_FIELDS, scope_statement, supply_chain_status
from mlops_platform.tools.reports.view import natural_key


def _rules(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for view in views:
        for rule in view["rules"]:
            key = (rule["pack"], rule["name"])
            entry = merged.setdefault(
                key, {k: v for k, v in rule.items() if k != "enforcement"} | {"enforcement": {}}
            )
            entry["enforcement"][view["environment"]] = rule["enforcement"]
    return [merged[k] for k in sorted(merged)]


def _coverage(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for view in views:
        for control in view["controls"]:
            key = (control["framework"], control["id"])
            row = rows.setdefault(
                key, {"framework": key[0], "id": key[1], "title": control["title"], "environments": {}}
            )
            row["environments"][view["environment"]] = control["status"]
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0], natural_key(k[1])))]


def _frameworks(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    titles = {fw["name"]: fw["title"] for view in views for fw in view["frameworks"]}
    out = []
    for slug in sorted(titles):
        edition = FRAMEWORKS.get(slug)
        out.append(
            {
                "id": slug,
                "title": titles[slug],
                "source": edition.source if edition else "",
                "note": edition.note if edition else "",
                "targets": list(edition.targets) if edition else [],
            }
        )
    return out


def report_view(views: list[dict[str, Any]], provenance: Provenance, generated_at: str) -> dict[str, Any]:
    """Everything a report format renders: the environments and what they share."""
    return {
        "passed": all(v["passed"] for v in views),
        "scope": scope_statement(supply_chain=supply_chain_status(views)),
        "sign_off_fields": list(SIGN_OFF_FIELDS),
        "provenance": provenance.as_dict() | {"generated_at": generated_at},
        "frameworks": _frameworks(views),
        "rules": _rules(views),
        "coverage": _coverage(views),
        "environments": views,
    }
