"""JUnit XML, the format every CI system displays: a suite per environment x pack, a case per check.

Each policy x resource the packs evaluated (``AuditResult.checks``) is a test case named by the URN
(``stack`` for stack policies, the waiver's ``file:line`` for waiver findings) with classname
``<env>.<pack>.<policy>``. Unwaived violations are ``<failure>`` (``type`` is the enforcement level,
so advisory ones are told apart), a policy that raised is ``<error>``, and a case whose violations
are all waived is ``<skipped>`` with the waiver. Built with ElementTree, which escapes everything.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from typing import Any

from mlops_platform.tools.reports.escape import strip_controls

# Characters XML 1.0 cannot carry at all, even escaped (e.g. ANSI escapes echoed into a message).
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)


def _describe(f: dict[str, Any]) -> str:
    lines = [f"[{f['outcome']}] {f['enforcement']}/{f['severity']}: {f['message']}"]
    if f["urn"]:
        lines.append(f"  resource: {f['urn']}")
    if f["spec"]:
        lines.append(f"  spec: {f['spec']['text']}")
    if f["remediation"]:
        lines.append(f"  fix: {f['remediation']}")
    if f["frameworks"]:
        lines.append(f"  frameworks: {', '.join(f['frameworks'])}")
    if f["waiver"]:
        w = f["waiver"]
        lines.append(f"  waived by {w['source']} until {w['expires']} ({w['owner']}, {w['approval_ref']})")
    return "\n".join(lines)


def _case(suite: ET.Element, env: str, pack: str, policy: str, name: str, found: list[dict[str, Any]]) -> str:
    """Add one testcase; return its outcome (``pass``, ``failure``, ``error`` or ``skipped``)."""
    case = ET.SubElement(suite, "testcase", classname=f"{env}.{pack}.{policy}", name=_clean(name), time="0")
    if not found:  # most cases: the policy passed on this resource
        return "pass"
    outcomes = {f["outcome"] for f in found}
    details = _clean("\n".join(_describe(f) for f in found))
    first = _clean(found[0]["message"]) if found else ""
    if "error" in outcomes:
        ET.SubElement(case, "error", message=first, type="policy-error").text = details
        return "error"
    if outcomes & {"fail", "warn"}:
        worst = next(f for f in found if f["outcome"] in ("fail", "warn"))
        ET.SubElement(
            case, "failure", message=_clean(worst["message"]), type=worst["enforcement"]
        ).text = details
        return "failure"
    if outcomes == {"waived"}:
        w = found[0]["waiver"]
        ET.SubElement(
            case, "skipped", message=_clean(f"waived until {w['expires']} by {w['source']}: {w['reason']}")
        )
        ET.SubElement(case, "system-out").text = details
        return "skipped"
    return "pass"


def provenance_properties(provenance: dict[str, Any]) -> list[tuple[str, str]]:
    """The provenance as flat ``(name, value)`` pairs, for the suites' ``<properties>``."""
    pairs = [
        ("provenance.commit", str(provenance["commit"] or "unknown")),
        ("provenance.dirty", str(provenance["dirty"]).lower()),
        ("provenance.engine", provenance["engine"]),
        ("provenance.as_of", provenance["as_of"]),
        ("provenance.generated_at", provenance["generated_at"]),
        ("provenance.policy_library_sha256", provenance["policy_library_sha256"]),
    ]
    pairs += [(f"provenance.version.{name}", v) for name, v in provenance["versions"].items()]
    pairs += [
        (f"provenance.pack.{p['name']}", f"{p['version']} sha256:{p['sources_sha256']}")
        for p in provenance["packs"]
    ]
    pairs += [
        (f"provenance.input.{f['role']}:{f['path']}", f"sha256:{f['sha256'] or 'missing'}")
        for f in provenance["inputs"]
    ]
    return pairs


def render_junit(report: dict[str, Any]) -> str:
    root = ET.Element("testsuites", name="mlops audit")
    totals: dict[str, int] = defaultdict(int)
    recorded = provenance_properties(report["provenance"])
    for view in report["environments"]:
        env = view["environment"]
        cases: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for pack, policy, urn in view["checks"]:
            cases[(pack, policy, urn or "stack")]
        for f in view["findings"]:
            cases[(f["pack"], f["policy"], f["urn"] or f["subject_waiver"] or "stack")].append(f)
        by_pack: dict[str, list[tuple[str, str, list[dict[str, Any]]]]] = defaultdict(list)
        for (case_pack, policy, name), found in sorted(cases.items()):  # sorted once, for every pack
            by_pack[case_pack].append((policy, name, found))
        for pack in sorted(by_pack):
            suite = ET.SubElement(root, "testsuite", name=f"{env}.{pack}")
            props = ET.SubElement(suite, "properties")
            for key in ("environment", "tier", "target"):
                ET.SubElement(props, "property", name=key, value=view[key])
            ET.SubElement(props, "property", name="stack_file", value=view["stack_file"])
            for name, value in recorded:
                ET.SubElement(props, "property", name=name, value=_clean(value))
            scope = report["scope"]
            ET.SubElement(props, "property", name="scope", value=_clean(scope["basis"]))
            ET.SubElement(
                props, "property", name="scope.not_verified", value=_clean("; ".join(scope["not_verified"]))
            )
            # Not-applicable pairs are no test cases; their count is kept beside them.
            not_applicable = str(view.get("not_applicable_by_pack", {}).get(pack, 0))
            ET.SubElement(props, "property", name="not_applicable", value=not_applicable)
            for source in view["policy_config"]:
                ET.SubElement(
                    props,
                    "property",
                    name="policy_config",
                    value=_clean(f"{source['path']} sha256:{source['sha256']}"),
                )
            counts: dict[str, int] = defaultdict(int)
            for policy, name, found in by_pack[pack]:
                counts[_case(suite, env, pack, policy, name, found)] += 1
                counts["tests"] += 1
            attrs = {
                "tests": str(counts["tests"]),
                "failures": str(counts["failure"]),
                "errors": str(counts["error"]),
                "skipped": str(counts["skipped"]),
            }
            suite.attrib.update(attrs | {"time": "0"})
            for key, value in attrs.items():
                totals[key] += int(value)
    root.attrib.update(
        {k: str(totals[k]) for k in ("tests", "failures", "errors", "skipped")} | {"time": "0"}
    )
    ET.indent(root)
    # Every field, attributes included (a stack name in classname), without a control character.
    document = strip_controls(ET.tostring(root, encoding="unicode"))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + document + "\n"
