"""Audit reports: text, json, sarif, junit, markdown and html.

``build_report`` builds the redacted, sorted view (:mod:`mlops_platform.tools.reports.view`) once per
run, one section (or run, or set of suites) per environment in the order given; ``render_report``
renders it in each format asked, the JSON streamed in pieces. ``render`` does both for one format.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_platform.tools.findings import AuditResult
from mlops_platform.tools.provenance import Provenance
from mlops_platform.tools.reports.documents import TEMPLATES, render_document
from mlops_platform.tools.reports.inventory import Declaration
from mlops_platform.tools.reports.json_report import iter_json
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


def build_report(
    results: list[AuditResult],
    *,
    provenance: Provenance,
    declarations: Mapping[str, Declaration] | None = None,
    generated_at: str | None = None,
    with_checks: bool = False,
) -> dict[str, Any]:
    """The one view every format renders, built once per run.

    Args:
        results: One ``AuditResult`` per environment, waivers already applied (evidence gathered,
            or gathered here once with the default mode).
        provenance: Which code, packs and inputs produced the audits (every format records it).
        declarations: Per environment name, what its spec declares (the model inventory); an
            environment without one reports no models.
        generated_at: The report's single timestamp (ISO 8601 UTC); now when omitted. The only value
            allowed to differ between two reports of the same inputs.
        with_checks: List every (pack, policy, urn) evaluated: only JUnit renders them (356,572 at
            1,000 models), so only a run that writes JUnit asks.

    Raises:
        ValueError: for an empty ``results``.
    """
    if not results:
        raise ValueError("nothing to report: no environment was audited")
    stamp = generated_at or datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    declared = declarations or {}
    views = [
        environment_view(result, declaration=declared.get(result.environment), with_checks=with_checks)
        for result in results
    ]
    return report_view(views, provenance, stamp)


def render_report(report: dict[str, Any], fmt: str, *, root: Path | None = None) -> Iterator[str]:
    """One format of a built report (:func:`build_report`), in pieces to write as they come.

    Args:
        report: The built report.
        fmt: One of :data:`FORMATS`.
        root: The project's root, which every file a report names is relative to (SARIF records it
            as ``originalUriBaseIds``, so code scanning resolves each location).

    Raises:
        ValueError: for an unknown format, or JUnit of a report built without its checks.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        return iter_json(report)
    if fmt == "junit":
        if any("checks" not in view for view in report["environments"]):
            raise ValueError("a JUnit report lists every check: build the report with_checks")
        return iter((render_junit(report),))
    if fmt == "sarif":
        return iter((render_sarif(report, root),))
    assert fmt in TEMPLATES
    return iter((render_document(fmt, report),))


def render(
    results: list[AuditResult],
    fmt: str,
    *,
    provenance: Provenance,
    declarations: Mapping[str, Declaration] | None = None,
    generated_at: str | None = None,
    root: Path | None = None,
) -> str:
    """Render the audits of one or more environments in one format (see :func:`build_report`).

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
    report = build_report(
        results,
        provenance=provenance,
        declarations=declarations,
        generated_at=generated_at,
        with_checks=fmt == "junit",
    )
    return "".join(render_report(report, fmt, root=root))


__all__ = ["FORMATS", "SUFFIXES", "Declaration", "build_report", "render", "render_report"]
