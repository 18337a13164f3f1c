"""What a rule reads: the resource properties whose observed values are a rule's positive evidence.

Rules run inside the packs and report only violations over gRPC, so a passed check carries no
values. The audit tools evaluate each rule's :class:`EvidenceSelector` (declared with the rule, see
:mod:`mlops_platform.policies.declaration`) against each judged resource's captured inputs instead
(``mlops_platform.tools.reports.evidence``) and print what they find next to the outcome, e.g.
``spec.template.spec.containers[0].securityContext.runAsNonRoot = true``.

A selector is a tuple of `RFC 9535 JSONPath <https://www.rfc-editor.org/rfc/rfc9535>`_ queries over
the resource inputs (with python-jsonpath's ``~`` key selector for "which keys"), or
``option:<name>`` for a resource option (``protect``, ``retain_on_delete``) that is not an input.
Kubernetes and Docker paths sit side by side: a path that matches nothing on a resource is simply
absent from its evidence. Values of environment variables and of config data are never listed (only
their names): evidence must not become a way to print what the secret rules guard. The builders
below spell the common places (pod specs, containers, labels) once. Pulumi-free, like
:mod:`mlops_platform.vocabulary`: the reports read it without the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mlops_platform import vocabulary as L

OPTION_PREFIX: Final = "option:"


@dataclass(frozen=True, kw_only=True, slots=True)
class EvidenceSelector:
    """What one rule reads, as the audit reports it."""

    reads: tuple[str, ...]
    """The queries (or ``option:<name>``) whose values on a judged resource are the rule's evidence."""
    subjects: tuple[str, ...] | None = None
    """For a stack rule (it reads the whole stack): the resources its claim is about, as queries a
    resource must match one of to be listed (the backup rule: the database backups, not the drift
    checks' CronJobs whose schedules it never read). ``None``: every resource judged."""


# Where a pod spec sits: a Pod, a workload's template, a CronJob's job template. Explicit paths, not
# recursive descent (``$..``): descent visits every value of every resource (whole dashboards in
# ConfigMaps): the bundled prod's report view took 21.8 s with it, 0.9 s with explicit paths.
_POD_SPECS = ("$.spec", "$.spec.template.spec", "$.spec.jobTemplate.spec.template.spec")
_METADATA = (
    "$.metadata",
    "$.spec.template.metadata",
    "$.spec.jobTemplate.metadata",
    "$.spec.jobTemplate.spec.template.metadata",
)


def pod(*suffixes: str) -> tuple[str, ...]:
    """``suffix`` under every pod spec: ``hostNetwork`` -> ``$.spec.template.spec.hostNetwork``..."""
    return tuple(f"{spec}.{suffix}" for suffix in suffixes for spec in _POD_SPECS)


def containers(*suffixes: str) -> tuple[str, ...]:
    """``suffix`` on every container and init container of every pod spec."""
    kinds = ("containers", "initContainers")
    return tuple(f"{spec}.{kind}[*].{suffix}" for suffix in suffixes for spec in _POD_SPECS for kind in kinds)


def security_context(key: str) -> tuple[str, ...]:
    """A securityContext setting at pod and container level."""
    return (*pod(f"securityContext.{key}"), *containers(f"securityContext.{key}"))


def label(*keys: str) -> tuple[str, ...]:
    """A label (or annotation) read on any target: k8s object and pod-template metadata, Docker labels."""
    out: list[str] = []
    for key in keys:
        out += [f"{meta}.{kind}['{key}']" for meta in _METADATA for kind in ("labels", "annotations")]
        out.append(f"$.labels[?@.label == '{key}'].value")
    return tuple(out)


def component(*components: str) -> tuple[str, ...]:
    """A resource whose component label (``app.kubernetes.io/component``) is one of ``components``."""
    out: list[str] = []
    for name in components:
        out += [f"{meta}.labels[?@ == '{name}']" for meta in _METADATA]
        out.append(f"$.labels[?@.label == '{L.APP_COMPONENT}' && @.value == '{name}']")
    return tuple(out)


IMAGES: Final = (*containers("image"), "$.image")
HOST_MOUNTS: Final = (
    *pod("volumes[*].hostPath.path"),
    "$.mounts[?@.type == 'bind'].source",
    "$.volumes[*].hostPath",
)
