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
from typing import TYPE_CHECKING

from mlops_platform.tools.findings import AuditResult, CapturedResource, Finding, PolicyMeta, SpecLocation

if TYPE_CHECKING:
    from mlops_platform.tools.project import Project

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


def program_location(urn: str, resources: Mapping[str, CapturedResource], root: Path) -> SpecLocation | None:
    """Where the program created the resource ``urn``: its own source position, or its nearest ancestor's.

    Only positions in the program's own files count (a chart's objects are created by the
    kubernetes SDK, the objects of a provider-built component by the provider: they take the line of
    the chart or component the program declared).
    """
    from mlops_platform.tools.engine.calls import is_program_file

    seen: set[str] = set()
    current: str | None = urn or None
    while current is not None and current not in seen:
        seen.add(current)
        resource = resources.get(current)
        if resource is None:
            return None
        source = resource.source
        if source is not None and is_program_file(source.file, root):
            return SpecLocation(relative_to_root(source.file, root), source.line, "", program=True)
        current = resource.parent
    return None


def relative_to_root(file: str, root: Path) -> str:
    """``file`` (absolute, or relative to the working directory) relative to the project's root."""
    path = Path(file)
    try:
        return str((path if path.is_absolute() else Path.cwd() / path).resolve().relative_to(root))
    except ValueError:
        return file


def locate_findings(
    result: AuditResult,
    env_file: Path,
    trail: Mapping[str, SpecPath] | None = None,
    *,
    project: Project | None = None,
) -> AuditResult:
    """``result`` with every finding's location and one-line remediation filled in.

    A resource built from the spec (a traced ancestor) points at the spec line; any other resource at
    the line of the program that created it (or its nearest ancestor created in the program); what
    neither locates (stack findings) points at the stack file's ``environment``, or its first line.
    Files (the stack file's and the policy config's too) are relative to the project's root. A tier
    default outside the project (the library's own ``stacks/defaults.yaml``, installed) is never
    pointed at: the stack file's nearest written key is.

    Args:
        result: an audit of ``env_file`` (either engine), just made: ``trail`` defaults to the spec
            trail of the last program run in this process, which is that audit's.
        env_file: the environment's stack file.
        trail: component URN -> spec path (``stacks.composition.spec_trail()``).
        project: the project audited (default: the working directory's).
    """
    from mlops_platform.stacks.composition import spec_trail
    from mlops_platform.stacks.loader import DEFAULTS_FILE, SpecLocator
    from mlops_platform.stacks.yaml_source import SourceError, format_path
    from mlops_platform.tools.project import project_or_cwd

    project = project_or_cwd(project)
    root = project.root
    trail = spec_trail() if trail is None else trail
    try:
        locator = SpecLocator(env_file, project.name, defaults=DEFAULTS_FILE.is_relative_to(root))
    except SourceError:  # the audit ran on it: it parses; nothing to locate otherwise
        return result
    resources = {r.urn: r for r in result.resources}
    parents = {r.urn: r.parent for r in result.resources}
    metas = {(p.pack, p.name): p for p in result.policies}
    located: list[Finding] = []
    for finding in result.findings:
        remediation = remediation_line(metas.get((finding.pack, finding.policy)))
        spec = None
        if finding.kind != "waiver":  # a waiver problem is located at the waiver's line
            path = spec_path_of(finding, parents, trail)
            program = program_location(finding.urn, resources, root) if path == STACK_PATH else None
            if program is not None:
                spec = program
            else:
                file, line, default = locator.locate(path)
                shown_path = format_path(path) if locator.declares(path[:1]) else ""
                spec = SpecLocation(relative_to_root(file, root), line, shown_path, default)
        located.append(dataclasses.replace(finding, spec=spec, remediation=remediation))
    stack_file = relative_to_root(str(env_file), root)
    config = [dataclasses.replace(c, path=relative_to_root(c.path, root)) for c in result.policy_config]
    return dataclasses.replace(result, findings=located, stack_file=stack_file, policy_config=config)
