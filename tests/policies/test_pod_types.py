"""Every pod-bearing kind in every API version the pinned SDK generates is read like a Deployment.

``test_table_matches_the_sdk`` derives the pod-bearing types from pulumi-kubernetes itself (about a
minute: it imports every resource module) and fails when a type is missing from the generated table.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from importlib import metadata
from typing import Any

import pytest

from mlops_platform.policies import pod_types
from mlops_platform.policies.rules import _pod_types
from tests.policies.policy_fixtures import R, deployment, env_config, run_rule

TYPES = sorted(_pod_types.POD_TEMPLATE_PATHS)
POD = ("spec", "template")
MISCONFIGURATIONS = {
    # rule -> (a change to the pod spec, the finding every kind must report)
    "workload-no-privileged": (
        lambda spec: spec["containers"][0]["securityContext"].update(privileged=True),
        'container "server" runs privileged (securityContext.privileged=true)',
    ),
    "workload-no-host-namespaces": (
        lambda spec: spec.update(hostPID=True),
        "pod shares the host PID namespace (hostPID=true)",
    ),
    "workload-no-added-capabilities": (
        lambda spec: spec.setdefault("initContainers", []).append(
            {
                **copy.deepcopy(spec["containers"][0]),
                "name": "init",
                "securityContext": {
                    **spec["containers"][0]["securityContext"],
                    "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
                },
            }
        ),
        'container "init" adds capability SYS_ADMIN',
    ),
    "workload-run-as-non-root": (
        lambda spec: spec.setdefault("ephemeralContainers", []).append(
            {
                **copy.deepcopy(spec["containers"][0]),
                "name": "debug",
                "securityContext": {**spec["containers"][0]["securityContext"], "runAsUser": 0},
            }
        ),
        'container "debug" runs as UID 0 (runAsUser=0)',
    ),
}


def _in(resource_type: str, change: Any) -> R:
    """The baseline Deployment's pod template moved to where ``resource_type`` holds it."""
    base = deployment()
    template = copy.deepcopy(base.props["spec"]["template"])
    change(template["spec"])
    path = _pod_types.POD_TEMPLATE_PATHS[resource_type]
    props: dict[str, Any] = {"metadata": copy.deepcopy(base.props["metadata"])}
    if not path:
        props["metadata"]["labels"] = template["metadata"]["labels"]
        props["spec"] = template["spec"]
    else:
        target = props
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = template
    return R(resource_type, base.name, props)


@pytest.mark.parametrize("rule", MISCONFIGURATIONS)
@pytest.mark.parametrize("resource_type", TYPES)
def test_same_misconfiguration_flagged_in_every_kind(resource_type: str, rule: str) -> None:
    change, expected = MISCONFIGURATIONS[rule]
    assert run_rule(rule, _in(resource_type, change), env_config("prod", rule)) == [expected]
    assert run_rule(rule, _in(resource_type, lambda _spec: None), env_config("prod", rule)) == []


def test_the_issue_kinds_are_all_there() -> None:
    for token in (
        "kubernetes:core/v1:ReplicationController",
        "kubernetes:core/v1:PodTemplate",
        "kubernetes:extensions/v1beta1:DaemonSet",
        "kubernetes:batch/v1beta1:CronJob",
        "kubernetes:apps/v1beta2:StatefulSet",
    ):
        assert token in _pod_types.POD_TEMPLATE_PATHS, token


def test_packs_import_no_provider_sdk() -> None:
    """The rules read the generated table: importing the packs loads no pulumi_kubernetes or docker."""
    code = (
        "import sys, mlops_platform.policies.packs, mlops_platform.policies.catalogue;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('pulumi_kubernetes','pulumi_docker')"
        " or m.startswith('mlops_platform.components')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_table_matches_the_sdk() -> None:
    assert metadata.version("pulumi_kubernetes") == _pod_types.SDK_VERSION
    derived = pod_types.derive()
    table = pod_types.template_paths(derived)
    assert table == _pod_types.POD_TEMPLATE_PATHS, "run: python -m mlops_platform.policies.pod_types"
    left_out = set(derived) - set(table)
    assert left_out and all(t.endswith(_pod_types.EXCLUDED_SUFFIXES) for t in left_out)
    kinds = {t.rsplit(":", 1)[-1] for t in table}
    assert kinds == {
        "Pod",
        "PodTemplate",
        "ReplicationController",
        "ReplicaSet",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "CronJob",
    }
