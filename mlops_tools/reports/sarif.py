"""SARIF 2.1.0: one run per environment, one rule per policy, waived results as suppressions.

Each result's primary location is the spec line that produced it (the stack file's, or the tier
default's in ``stacks/defaults.yaml``), so code scanning annotates the spec in a pull request; the
resource stays a ``logicalLocation`` (its URN). Findings about a waiver point at the waiver's line.
Runs are told apart by ``automationDetails.id`` (``mlops-audit/<env>/``), which code-scanning
services use as the category.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from mlops_platform.tools.findings import Enforcement, Severity

TOOL_NAME = "mlops-audit"
SRCROOT = "%SRCROOT%"  # every artifact URI is relative to the project's root, which this base names
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

LEVELS: dict[str, str] = {
    Enforcement.MANDATORY: "error",
    Enforcement.ADVISORY: "warning",
    Enforcement.REMEDIATE: "warning",
    Enforcement.DISABLED: "none",
}
# GitHub code scanning ranks results by this CVSS-like score (rule property "security-severity").
SECURITY_SEVERITY: dict[str, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.UNSPECIFIED: "1.0",
}


def _split_source(source: str) -> tuple[str, int | None]:
    path, _, line = source.rpartition(":")
    return (path, int(line)) if path and line.isdigit() else (source, None)


def _physical(uri: str, line: int | None = None) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": SRCROOT}}
    if line is not None:
        location["region"] = {"startLine": line}
    return location


def _message(f: dict[str, Any]) -> str:
    text = f["message"] or f["policy"]
    if f["spec"] and f["spec"]["path"]:
        text += f" (at {f['spec']['path']})"
    return text + (f" Fix: {f['remediation']}" if f["remediation"] else "")


def _rule(rule: dict[str, Any], rule_id: str) -> dict[str, Any]:
    remediation = rule["remediation"] or "See the rule description."
    descriptor: dict[str, Any] = {
        "id": rule_id,
        "shortDescription": {"text": rule["display_name"] or rule["name"]},
        "fullDescription": {"text": rule["description"] or rule["display_name"] or rule["name"]},
        "help": {"text": f"Remediation: {remediation}", "markdown": f"**Remediation:** {remediation}"},
        "defaultConfiguration": {
            "level": LEVELS[rule["enforcement"]],
            "enabled": rule["enforcement"] != Enforcement.DISABLED,
        },
        "properties": {
            "pack": rule["pack"],
            "enforcement": rule["enforcement"],
            "severity": rule["severity"],
            "security-severity": SECURITY_SEVERITY[rule["severity"]],
            "tags": sorted(set(rule["tags"]) | set(rule["frameworks"])),
            "frameworks": rule["frameworks"],
            "waivable": rule["waivable"],
        },
    }
    if rule["url"] and urlsplit(rule["url"]).scheme:
        descriptor["helpUri"] = rule["url"]
    elif rule["url"]:  # helpUri is an absolute URI; a path in the project (our rules' docs) is not
        descriptor["properties"]["documentation"] = rule["url"]
    return descriptor


def _result(view: dict[str, Any], f: dict[str, Any], rule_id: str, index: int) -> dict[str, Any]:
    location: dict[str, Any] = {}
    if f["subject_waiver"]:
        location["physicalLocation"] = _physical(*_split_source(f["subject_waiver"]))
    elif f["spec"]:  # the spec (or program) line that produced it: code scanning annotates it
        location["physicalLocation"] = _physical(f["spec"]["file"], f["spec"]["line"])
        if f["spec"]["path"]:
            location["message"] = {"text": f["spec"]["path"]}
    else:
        location["physicalLocation"] = _physical(view["stack_file"])
    if f["urn"]:
        location["logicalLocations"] = [
            {"name": f["resource_name"], "fullyQualifiedName": f["urn"], "kind": "resource"}
        ]
    identity = "\n".join((view["environment"], f["pack"], f["policy"], f["urn"], f["message"]))
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": "error" if f["kind"] == "policy-error" else LEVELS[f["enforcement"]],
        "kind": "fail",
        "message": {"text": _message(f)},
        "locations": [location],
        "partialFingerprints": {"mlopsFinding/v1": hashlib.sha256(identity.encode()).hexdigest()},
        "properties": {
            "environment": view["environment"],
            "pack": f["pack"],
            "findingKind": f["kind"],
            "outcome": f["outcome"],
            "enforcement": f["enforcement"],
            "severity": f["severity"],
            "resourceType": f["resource_type"],
            "frameworks": f["frameworks"],
            "specPath": f["spec"]["path"] if f["spec"] else "",
            "remediation": f["remediation"],
        },
    }
    if f["waiver"]:
        waiver = f["waiver"]
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": waiver["reason"],
                "location": {"physicalLocation": _physical(*_split_source(waiver["source"]))},
                "properties": {
                    "owner": waiver["owner"],
                    "approvalRef": waiver["approval_ref"],
                    "expires": waiver["expires"],
                    "selector": waiver["selector"],
                },
            }
        ]
    return result


def _run(view: dict[str, Any], provenance: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    names = Counter(rule["name"] for rule in view["rules"])
    ids: dict[tuple[str, str], str] = {
        (r["pack"], r["name"]): r["name"] if names[r["name"]] == 1 else f"{r['pack']}/{r['name']}"
        for r in view["rules"]
    }
    rules = [_rule(r, ids[(r["pack"], r["name"])]) for r in view["rules"]]
    index = {key: i for i, key in enumerate(ids)}
    results = []
    for f in view["findings"]:
        key = (f["pack"], f["policy"])
        if key not in index:  # a finding from a policy the pack did not describe: still reported
            index[key] = len(rules)
            ids[key] = f["policy"] if f["policy"] not in names else f"{f['pack']}/{f['policy']}"
            rules.append({"id": ids[key], "shortDescription": {"text": f["policy"]}})
        results.append(_result(view, f, ids[key], index[key]))
    return {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": provenance["versions"].get("mlops-platform", ""),
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"{TOOL_NAME}/{view['environment']}/"},
        "invocations": [{"executionSuccessful": view["summary"]["errors"] == 0}],
        "results": results,
        "properties": {
            "environment": view["environment"],
            "tier": view["tier"],
            "target": view["target"],
            "passed": view["passed"],
            "summary": view["summary"],
            "policyConfig": view["policy_config"],
            "provenance": provenance,
            "scope": scope,
        },
    }


def _rooted(node: Any, root: Path) -> Any:
    """``node`` with every artifact URI relative to ``root`` (waiver files are named from the cwd)."""
    if isinstance(node, list):
        return [_rooted(item, root) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _rooted(value, root) for key, value in node.items()}
    location = out.get("artifactLocation")
    if isinstance(location, dict) and isinstance(location.get("uri"), str):
        path = Path(location["uri"])
        with suppress(ValueError):  # outside the project: left as it is
            location["uri"] = (
                (path if path.is_absolute() else Path.cwd() / path).resolve().relative_to(root).as_posix()
            )
    return out


def _encoded(node: Any) -> Any:
    """``node`` with every artifact location's path as a URI reference (``%20`` for a space, ...)."""
    if isinstance(node, list):
        return [_encoded(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _encoded(value) for key, value in node.items()}
    location = out.get("artifactLocation")
    if isinstance(location, dict) and isinstance(location.get("uri"), str):
        location["uri"] = quote(location["uri"], safe="/")
    return out


def render_sarif(report: dict[str, Any], root: Path | None = None) -> str:
    runs = [_run(v, report["provenance"], report["scope"]) for v in report["environments"]]
    if root is not None:  # the base every artifact URI is relative to (a directory URI ends in "/")
        base = {SRCROOT: {"uri": root.resolve().as_uri().rstrip("/") + "/"}}
        runs = [{**_rooted(run, root.resolve()), "originalUriBaseIds": base} for run in runs]
    runs = [_encoded(run) for run in runs]  # last: the paths above are the file system's
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
