"""Audit reports: ``render(results, fmt, provenance=...)`` for text, json, sarif, junit, markdown and html.

Every format renders the same redacted, sorted view (:mod:`mlops_platform.tools.reports.view`), one section
(or run, or set of suites) per environment in the order given.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from mlops_platform.tools.findings import AuditResult
from mlops_platform.tools.provenance import Provenance
from mlops_platform.tools.reports.documents import TEMPLATES, render_document
from mlops_platform.tools.reports.inventory import Declaration
from mlops_platform.tools.reports.json_report import render_json
from mlops_platform.tools.reports.junit import render_junit
from mlops_platform.tools.reports.report import report_view
from mlops_platform.tools.reports.sarif import render_sarif
from mlops_platform.tools.reports.view import environment_view

FORMATS = ("text", "json", "sarif", "junit", "markdown", "html")
SUFFIXES = {
    "text": ".txt",
    "json": ".json",
    "sarif": ".sarif",
    "junit": ".xml",
    "markdown": ".md",
    "html": ".html",
}


def render(
    results: list[AuditResult],
    fmt: str,
    *,
    provenance: Provenance,
    declarations: Mapping[str, Declaration] | None = None,
    generated_at: str | None = None,
    root: Path | None = None,
) -> str:
    """Render the audits of one or more environments in one format.

    Args:
        results: One ``AuditResult`` per environment, waivers already applied.
        fmt: One of :data:`FORMATS`.
        provenance: Which code, packs and inputs produced the audits (every format records it).
        declarations: Per environment name, what its spec declares (the model inventory); an
            environment without one reports no models.
        generated_at: The report's single timestamp (ISO 8601 UTC); now when omitted. The only value
            allowed to differ between two reports of the same inputs.
        root: The project's root, which every file a report names is relative to (SARIF records it
            as ``originalUriBaseIds``, so code scanning resolves each location).

    Raises:
        ValueError: for an unknown format or an empty ``results``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not results:
        raise ValueError("nothing to report: no environment was audited")
    stamp = generated_at or datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    declared = declarations or {}
    views = [
        environment_view(result, declaration=declared.get(result.environment), with_checks=fmt == "junit")
        for result in results
    ]
    report = report_view(views, provenance, stamp)
    if fmt == "json":
        return render_json(report)
    if fmt == "sarif":
        return render_sarif(report, root)
    if fmt == "junit":
        return render_junit(report)
    assert fmt in TEMPLATES
    return render_document(fmt, report)


__all__ = ["FORMATS", "SUFFIXES", "Declaration", "render"]
