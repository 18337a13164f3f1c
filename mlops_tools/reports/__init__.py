"""Audit reports: ``render(results, fmt)`` for text, json, sarif, junit, markdown and html.

Every format renders the same redacted, sorted view (:mod:`mlops_platform.tools.reports.view`), one section
(or run, or set of suites) per environment in the order given.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mlops_platform.tools.findings import AuditResult
from mlops_platform.tools.reports.documents import TEMPLATES, render_document
from mlops_platform.tools.reports.json_report import render_json
from mlops_platform.tools.reports.junit import render_junit
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


def render(results: list[AuditResult], fmt: str, *, generated_at: str | None = None) -> str:
    """Render the audits of one or more environments in one format.

    Args:
        results: One ``AuditResult`` per environment, waivers already applied.
        fmt: One of :data:`FORMATS`.
        generated_at: The report's single timestamp (ISO 8601 UTC); now when omitted. Only the json,
            markdown, html and text formats print it.

    Raises:
        ValueError: for an unknown format or an empty ``results``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not results:
        raise ValueError("nothing to report: no environment was audited")
    stamp = generated_at or datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    views = [environment_view(result, with_checks=fmt == "junit") for result in results]
    if fmt == "json":
        return render_json(views, stamp)
    if fmt == "sarif":
        return render_sarif(views)
    if fmt == "junit":
        return render_junit(views)
    assert fmt in TEMPLATES
    return render_document(fmt, views, stamp)


__all__ = ["FORMATS", "SUFFIXES", "render"]
