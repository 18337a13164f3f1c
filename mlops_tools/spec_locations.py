"""Locate audit findings in the spec: the stack file line (or tier default) that produced each one.

A finding names a resource by URN. The composition records, for each component it builds, the spec
path it built it from (``stacks.composition.spec_trail``: ``serving.models[1]`` for a model's
endpoint); a resource takes the path of its nearest traced ancestor. The policy then says which key
under that path it judges (:data:`POLICY_KEYS`: ``image`` for an unpinned image, ``governance`` for
missing documentation), and :class:`~mlops_platform.stacks.loader.SpecLocator` finds the line that
states it, in the stack file or, when a tier default supplied the value, in ``stacks/defaults.yaml``.
Nothing is guessed from resource names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from mlops_platform.tools.findings import AuditResult, Finding, PolicyMeta, SpecLocation

SpecPath = tuple[str | int, ...]

# The key a policy judges, below the spec path of the component it found the resource in: per layer
# (the path's first key). A policy absent here points at the component's own path.
MODEL_KEYS: dict[str, SpecPath] = {
    "image-no-latest-tag": ("image",),
    "image-digest-pinned": ("image",),
    "image-approved-registry": ("image",),
    "workload-resource-requests": ("resources", "requests"),
    "workload-resource-limits": ("resources", "limits"),
    "workload-min-replicas": ("replicas", "min"),
    "workload-disruption-budget": ("replicas",),
    "autoscaler-bounds-sane": ("replicas",),
    "model-registry-source": ("model",),
    "model-high-risk-documentation": ("governance",),
    "model-classification-ceiling": ("governance", "data_classification"),
    "model-drift-check": ("drift",),
    "model-monitoring-coverage": ("slo",),
}
POLICY_KEYS: dict[str, dict[str, SpecPath]] = {
    "serving": MODEL_KEYS,
    "storage": {
        "database-backups-scheduled": ("database", "backup"),
        "object-store-versioning": ("object_store", "buckets"),
        "object-store-encryption": ("object_store", "encryption"),
        "storage-protected": ("database",),
    },
    "registry": {
        "workload-min-replicas": ("model_registry", "replicas"),
        "workload-resource-requests": ("model_registry", "resources", "requests"),
        "workload-resource-limits": ("model_registry", "resources", "limits"),
    },
}
STACK_PATH: SpecPath = ("environment",)  # stack-level findings and resources outside every layer


def remediation_line(policy: PolicyMeta | None) -> str:
    """The first sentence of a policy's remediation steps, on one line."""
    if policy is None or not policy.remediation_steps.strip():
        return ""
    text = " ".join(policy.remediation_steps.split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def spec_path_of(
    finding: Finding, parents: Mapping[str, str | None], trail: Mapping[str, SpecPath]
) -> SpecPath:
    """The spec path a finding comes from: its resource's nearest traced ancestor, plus the policy's key."""
    base: SpecPath | None = None
    urn: str | None = finding.urn or None
    seen: set[str] = set()
    while urn is not None and urn not in seen:
        seen.add(urn)
        if urn in trail:
            base = trail[urn]
            break
        urn = parents.get(urn)
    if base is None:
        return STACK_PATH
    keys = POLICY_KEYS.get(str(base[0]), {})
    if len(base) == 1 and base[0] == "serving":
        keys = {}  # the serving layer itself (not one model): no model key applies
    return (*base, *keys.get(finding.policy, ()))


def locate_findings(
    result: AuditResult, env_file: Path, trail: Mapping[str, SpecPath] | None = None
) -> AuditResult:
    """``result`` with every finding's spec location and one-line remediation filled in.

    Args:
        result: an audit of ``env_file`` (either engine), just made: ``trail`` defaults to the spec
            trail of the last program run in this process, which is that audit's.
        env_file: the environment's stack file.
        trail: component URN -> spec path (``stacks.composition.spec_trail()``).
    """
    from mlops_platform.stacks.composition import spec_trail
    from mlops_platform.stacks.loader import SpecLocator
    from mlops_platform.stacks.yaml_source import SourceError, format_path

    trail = spec_trail() if trail is None else trail
    try:
        locator = SpecLocator(env_file)
    except SourceError:  # the audit ran on it: it parses; nothing to locate otherwise
        return result
    parents = {r.urn: r.parent for r in result.resources}
    metas = {(p.pack, p.name): p for p in result.policies}
    located: list[Finding] = []
    for finding in result.findings:
        remediation = remediation_line(metas.get((finding.pack, finding.policy)))
        spec = None
        if finding.kind != "waiver":  # a waiver problem is located at the waiver's line
            path = spec_path_of(finding, parents, trail)
            file, line, default = locator.locate(path)
            spec = SpecLocation(file, line, format_path(path), default)
        located.append(dataclasses.replace(finding, spec=spec, remediation=remediation))
    return dataclasses.replace(result, findings=located)
