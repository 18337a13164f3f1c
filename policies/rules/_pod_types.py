"""Every pulumi-kubernetes type that holds a pod spec, and where its pod template sits.

Generated from the pinned SDK by ``python -m mlops_platform.policies.pod_types`` (which walks each
resource"s input types to ``core/v1`` ``PodSpec``); ``tests/policies/test_pod_types.py`` fails when the
SDK and this table disagree. Kept as a literal so that a policy pack never imports the provider SDK.

The path leads to the object holding the pods" ``metadata`` and ``spec`` (the Pod itself for a Pod).
``*List`` types (pods under ``items[]``) and ``*Patch`` types (partial objects whose missing fields mean
"unchanged", not "unset") are left out on purpose: see ``EXCLUDED_SUFFIXES``.
"""

from __future__ import annotations

from typing import Final

SDK_VERSION: Final = "4.34.2"  # the pulumi-kubernetes version this table was generated from
EXCLUDED_SUFFIXES: Final = ("List", "Patch")

POD_TEMPLATE_PATHS: Final[dict[str, tuple[str, ...]]] = {
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1beta1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1beta1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1beta2:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1beta2:Deployment": ("spec", "template"),
    "kubernetes:apps/v1beta2:ReplicaSet": ("spec", "template"),
    "kubernetes:apps/v1beta2:StatefulSet": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1beta1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:batch/v2alpha1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:core/v1:Pod": (),
    "kubernetes:core/v1:PodTemplate": ("template",),
    "kubernetes:core/v1:ReplicationController": ("spec", "template"),
    "kubernetes:extensions/v1beta1:DaemonSet": ("spec", "template"),
    "kubernetes:extensions/v1beta1:Deployment": ("spec", "template"),
    "kubernetes:extensions/v1beta1:ReplicaSet": ("spec", "template"),
}
