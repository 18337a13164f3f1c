"""The JSON report: the machine-readable audit, stable across runs apart from ``generated_at``.

One environment renders as one object (``environment``, ``summary``, ``violations``, ...). Several
render as ``{"generated_at", "passed", "environments": {<env>: <that object without generated_at>}}``
in the order audited. ``violations`` lists every finding, worst first, with its ``kind``
(``violation``, ``policy-error`` or ``waiver``) and ``outcome`` (``error``, ``fail``, ``warn``,
``waived``); summary counts: ``mandatory`` = blocking findings left unwaived (policy errors apart),
``advisory`` = non-blocking unwaived ones, ``waived``, ``errors`` = policies that raised. Each
violation has ``spec`` (``{file, line, path, default, text}``: the stack file line, or the tier
default's, that produced it; null for waiver problems) and a one-line ``remediation``;
``policy_config`` lists the policy config files used, with their SHA-256.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_VERSION = 1

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


def environment_document(view: dict[str, Any]) -> dict[str, Any]:
    return {
        "environment": view["environment"],
        "tier": view["tier"],
        "target": view["target"],
        "passed": view["passed"],
        "summary": view["summary"],
        "violations": [{key: f[key] for key in _VIOLATION_KEYS} for f in view["findings"]],
        "waivers": view["waivers"],
        "rules": view["rules"],
        "policy_config": view["policy_config"],
    }


def render_json(views: list[dict[str, Any]], generated_at: str) -> str:
    if len(views) == 1:
        document: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "generated_at": generated_at,
            **environment_document(views[0]),
        }
    else:
        document = {
            "schema_version": SCHEMA_VERSION,
            "generated_at": generated_at,
            "passed": all(v["passed"] for v in views),
            "environments": {v["environment"]: environment_document(v) for v in views},
        }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
