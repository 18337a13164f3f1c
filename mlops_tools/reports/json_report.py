"""The JSON report: the machine-readable audit, stable across runs apart from ``provenance.generated_at``.

One shape for one or many environments, described by the versioned JSON Schema shipped beside this
module (``schema/audit-report.v<SCHEMA_VERSION>.json``, tested): ``environments`` is a list in the
order audited; the rule catalogue, frameworks and coverage matrix appear once. Per environment:
``summary``, ``models`` (the inventory), ``controls`` (each with ``framework``, ``id``, ``title``,
``status``, per-outcome counts and the policies that evidence it), ``policy_results`` (per policy the
resources judged with their observed values), ``violations`` (every finding, worst first, with its
``kind`` and ``outcome``) and ``waivers``. Summary counts: ``mandatory`` = blocking findings left
unwaived (policy errors apart), ``advisory`` = non-blocking unwaived ones, ``waived``, ``errors`` =
policies that raised. Each
violation has ``spec`` (``{file, line, path, default, text}``: the stack file line, or the tier
default's, that produced it; null for waiver problems) and a one-line ``remediation``;
``policy_config`` lists the policy config files used, with their SHA-256; ``supply_chain`` whether the
image registries were consulted and what each image's registry answered. ``scope`` states what the
audit verified and what it did not; ``digest`` is the SHA-256 of the document's RFC 8785 form without
the digest (``mlops report sign`` / ``verify``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

from mlops_platform.tools.reports.digest import with_digest

SCHEMA_VERSION = 2
SCHEMA_FILE = f"audit-report.v{SCHEMA_VERSION}.json"

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
    "frameworks",
    "waiver",
    "spec",
    "remediation",
)


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
        "models": view["models"],
        "controls": view["controls"],
        "policy_results": [{k: v for k, v in r.items() if k != "findings"} for r in view["policy_results"]],
        "violations": [{key: f[key] for key in _VIOLATION_KEYS} for f in view["findings"]],
        "waivers": view["waivers"],
        "policy_config": view["policy_config"],
        "supply_chain": view["supply_chain"],
    }


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
