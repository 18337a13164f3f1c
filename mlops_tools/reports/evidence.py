"""Positive evidence: the observed values a rule judged, read from a resource's captured inputs.

The paths are each rule's declared :class:`~mlops_platform.policies.evidence.EvidenceSelector` (read from
the catalogue on first use: the declarations import pulumi-policy, which the reports do not
otherwise need). Output is bounded
(:data:`MAX_OBSERVATIONS` per policy and resource, :data:`MAX_VALUE_CHARS` per value) and never holds
a secret: the engine already replaced secret inputs by ``SECRET_MARKER``, rendered here as
``[secret]``, and the report view redacts every string by fingerprint on top.

:func:`gather_evidence` reads it once per (rule, resource) the report lists, right after the packs
judged (the offline engine overlaps it with the packs' stack analysis); every report format then
renders the same :class:`~mlops_platform.tools.findings.Evidence`. By default
(:attr:`EvidenceMode.SAMPLE`) that is every resource a rule did not pass and the first
:data:`PASS_SAMPLE` it passed (by resource name); ``EvidenceMode.FULL`` lists every resource judged.
The counts never depend on the mode: they come from the checks.
"""

from __future__ import annotations

import functools
import heapq
import json
from collections import defaultdict
from collections.abc import Collection, Iterable
from functools import cache
from typing import Any, Final

import jsonpath

from mlops_platform.policies.evidence import OPTION_PREFIX, EvidenceSelector
from mlops_platform.tools.engine.props import SECRET_SIG, SIG_KEY
from mlops_platform.tools.findings import (
    SECRET_MARKER,
    AuditResult,
    CapturedResource,
    Check,
    Evidence,
    EvidenceMode,
    Finding,
    Observed,
)
from mlops_platform.tools.waivers import resource_name

MAX_OBSERVATIONS = 8
MAX_VALUE_CHARS = 160
# Passing resources listed per rule by default: enough to show what a pass looked like; the rest
# are counted (``passes_left_out``) and listed with ``--evidence full``.
PASS_SAMPLE: Final = 5
SECRET_TEXT = "[secret]"
_OPTIONS = frozenset({"protect", "retain_on_delete", "additional_secret_outputs", "delete_before_replace"})


@cache
def _compiled(path: str) -> jsonpath.JSONPath | jsonpath.CompoundJSONPath:
    return jsonpath.compile(path)


@cache
def _literal_prefix(path: str) -> tuple[str, ...]:
    """The plain keys a query starts with (``$.spec.template.spec.containers[*]`` -> spec, template, spec).

    Most queries match nothing on most resources; walking these keys first skips the JSONPath engine
    for them (measured on the bundled prod, 40 policies x 80 resources: 0.67 -> 0.31 ms per pair).
    """
    keys: list[str] = []
    for segment in path.removeprefix("$.").split("."):
        name, bracket, _ = segment.partition("[")
        if not name.isidentifier():
            break
        keys.append(name)
        if bracket:
            break
    return tuple(keys) if path.startswith("$.") else ()


def _may_match(document: Any, path: str) -> bool:
    for key in _literal_prefix(path):
        if not isinstance(document, dict) or key not in document:
            return False
        document = document[key]
    return True


def _format_parts(parts: tuple[Any, ...]) -> str:
    """``("spec", "containers", 0, "mlops.dev/x")`` -> ``spec.containers[0]['mlops.dev/x']``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        key = str(part)
        if key.startswith("~"):  # python-jsonpath's key selector: the match is the key itself
            out += f"['{key[1:]}'] (key)" if not key[1:].isidentifier() else f".{key[1:]} (key)"
        elif key.replace("_", "").replace("-", "").isalnum() and not key[0].isdigit():
            out += f".{key}" if out else key
        else:
            out += f"['{key}']"
    return out


def _parts_key(parts: tuple[Any, ...]) -> tuple[tuple[int, int, str], ...]:
    """Document order independent of map order: indices numerically, keys alphabetically."""
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in parts)


def _named(document: Any, parts: tuple[Any, ...]) -> tuple[Any, ...]:
    """``("labels", 8, "value")`` -> ``("labels", "mlops.dev/model")`` for Docker's ``[{label, value}]``."""
    if len(parts) < 3 or parts[-1] != "value" or not isinstance(parts[-2], int):
        return parts
    item = document
    for part in parts[:-1]:
        try:
            item = item[part]
        except (KeyError, IndexError, TypeError):
            return parts
    return (
        (*parts[:-2], item["label"])
        if isinstance(item, dict) and isinstance(item.get("label"), str)
        else parts
    )


def _is_secret(value: Any) -> bool:
    """The offline engine's ``SECRET_MARKER``, or a Pulumi secret envelope as the real engine's state
    holds it (``{SIG_KEY: SECRET_SIG, "ciphertext": ...}``): neither is printed, not even its keys."""
    return isinstance(value, dict) and (value == SECRET_MARKER or value.get(SIG_KEY) == SECRET_SIG)


def _scrub(value: Any) -> Any:
    if _is_secret(value):
        return SECRET_TEXT
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _holds_secret(value: Any) -> bool:
    if _is_secret(value):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_secret(v) for v in value)
    return False


def _text(value: Any) -> str:
    value = _scrub(value)
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


@cache
def _declared(policy: str) -> EvidenceSelector | None:
    """What the bundled rule ``policy`` reads, as declared with it (``None``: no bundled rule)."""
    from mlops_platform.policies.catalogue import evidence_of

    return evidence_of(policy)


def is_subject(inputs: Any, policy: str) -> bool:
    """Whether a resource with ``inputs`` is one ``policy``'s evidence may list (its ``subjects``)."""
    declared = _declared(policy)
    subjects = declared.subjects if declared is not None else None
    return subjects is None or any(
        _may_match(inputs, path) and next(iter(_compiled(path).finditer(inputs)), None) is not None
        for path in subjects
    )


def observe(resource: CapturedResource, policy: str) -> tuple[list[dict[str, str]], int]:
    """The values ``policy`` reads on ``resource``: up to :data:`MAX_OBSERVATIONS` ``{path, value}``.

    Returns:
        The observations, in path order then document order, and how many more were left out.
    """
    found = _Observer().observe(resource, policy)
    return [{"path": path, "value": value} for path, value in found.values], found.more


class _Observer:
    """Reads rules' paths on resources, scrubbing each resource's secrets once (not once per rule)."""

    def __init__(self) -> None:
        self._inputs: dict[str, Any] = {}

    def _scrubbed(self, resource: CapturedResource) -> Any:
        # Secrets become the plain text "[secret]" before any query runs: a key selector (``$.data.~``)
        # must not list the keys of a secret envelope either.
        inputs = self._inputs.get(resource.urn)
        if inputs is None:
            inputs = _scrub(resource.inputs) if _holds_secret(resource.inputs) else resource.inputs
            self._inputs[resource.urn] = inputs
        return inputs

    def observe(self, resource: CapturedResource | None, policy: str) -> Observed:
        if resource is None:  # the stack: a stack rule read every resource (see ``stack_reads``)
            return Observed((), 0)
        observed: list[tuple[str, str]] = []
        seen: set[str] = set()
        total = 0
        inputs = self._scrubbed(resource)
        if not is_subject(inputs, policy):  # not what the rule's claim is about (its ``subjects``)
            return Observed((), 0)
        declared = _declared(policy)
        for path in declared.reads if declared is not None else ():
            if path.startswith(OPTION_PREFIX):
                name = path.removeprefix(OPTION_PREFIX)
                pairs = [(f"options.{name}", getattr(resource, name))] if name in _OPTIONS else []
            else:
                pairs = (
                    [
                        (_format_parts(_named(inputs, m.parts)), m.value)
                        # Sorted: map order is the engine's (the real engine's Structs sort keys, the
                        # mocks keep insertion order), and the bound must keep the same observations.
                        for m in sorted(_compiled(path).finditer(inputs), key=lambda m: _parts_key(m.parts))
                    ]
                    if _may_match(inputs, path)
                    else []
                )
            for where, value in pairs:
                if where in seen:  # labels and annotations overlap for Docker, recursive paths repeat
                    continue
                seen.add(where)
                total += 1
                if len(observed) < MAX_OBSERVATIONS:
                    observed.append((where, _text(value)))
        return Observed(tuple(observed), total - len(observed))


def judged_units(checked: Collection[str], flagged: Iterable[str]) -> set[str]:
    """The units a rule judged: the URNs it checked or flagged (``""``: the stack).

    A stack rule checks ``""`` and reports findings on resources: when it flags any, those resources
    are the units it judged (counting the stack as passed beside them would mislead).
    """
    units = set(checked) | set(flagged)
    if "" in checked and any(u not in checked for u in flagged):
        units.discard("")
    return units


def _report_order(urn: str) -> tuple[str, str]:
    return (resource_name(urn) if urn else "stack", urn)


def gather_evidence(
    resources: Iterable[CapturedResource],
    findings: Iterable[Finding],
    checks: Iterable[Check],
    mode: EvidenceMode,
    *,
    into: Evidence | None = None,
) -> Evidence:
    """Read, once per (rule, resource) the report lists, the values each rule read.

    Args:
        resources: what the program registered.
        findings: the packs' findings (before or after waivers: a waiver changes an outcome, never
            whether a resource passed).
        checks: the applicable evaluations (rule x resource; ``""`` for the stack).
        mode: which resources are listed: see the module's docstring.
        into: evidence gathered earlier (for other rules): kept, and extended.
    """
    by_urn = {r.urn: r for r in resources}
    observer = _Observer()
    observed = dict(into.observed) if into is not None else {}
    stack_reads = dict(into.stack_reads) if into is not None else {}
    cut = set(into.stack_reads_cut) if into is not None else set()
    checked: dict[tuple[str, str], set[str]] = defaultdict(set)
    for check in checks:
        checked[(check.pack, check.policy)].add(check.urn)
    flagged: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in findings:
        if f.kind != "waiver":  # a problem of the waiver file, not an evaluation of a resource
            flagged[(f.pack, f.policy)].add(f.urn)
    in_order: list[str] | None = None
    order = functools.cache(_report_order)  # each resource's sort key once, for every rule

    for key in sorted(checked.keys() | flagged.keys()):
        pack, policy = key
        units = judged_units(checked.get(key, set()), flagged.get(key, set()))
        failed = flagged.get(key, set()) & units
        # by report order (the names keyed once for every rule: 10,802 resources x 50 rules at 1,000
        # models), all of them or the first PASS_SAMPLE
        passes = units - failed
        if mode is EvidenceMode.FULL:
            passed = sorted(passes, key=order)
        else:
            passed = heapq.nsmallest(PASS_SAMPLE, passes, key=order)
        listed = [*failed, *passed]
        for urn in listed:
            if (pack, policy, urn) not in observed:
                observed[(pack, policy, urn)] = observer.observe(by_urn.get(urn), policy)
        if "" not in units or key in stack_reads:
            continue
        # A stack rule that judged the whole stack read it resource by resource: list those with values.
        if in_order is None:
            in_order = sorted(by_urn, key=order)
        reads: list[str] = []
        for urn in in_order:
            if urn in units:
                continue
            found = observer.observe(by_urn[urn], policy)
            if not found.values:
                continue
            if mode is EvidenceMode.SAMPLE and len(reads) == PASS_SAMPLE:
                cut.add(key)  # one more holds values: the listed reads are a sample
                break
            reads.append(urn)
            observed[(pack, policy, urn)] = found
        stack_reads[key] = tuple(reads)
    return Evidence(mode, observed, stack_reads, frozenset(cut))


def evidence_of(result: AuditResult, mode: EvidenceMode = EvidenceMode.SAMPLE) -> Evidence:
    """The result's gathered evidence, or (for a result no engine gathered) gathered now, once."""
    if result.evidence is not None:
        return result.evidence
    return gather_evidence(result.resources, result.findings, result.checks, mode)
