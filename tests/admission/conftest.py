"""A real kube-apiserver (with its etcd, no controllers) and the catalogue's policies installed in it.

ValidatingAdmissionPolicies are evaluated by the API server itself, so the equivalence tests need no
controller manager. One control plane per session; without the toolchain's binaries the tests skip
locally and fail under ``CI=true``. The operators' CRDs (the toolchain's files) are installed when
present, so that ServiceMonitors, PrometheusRules and HTTPRoutes are served too.

Policy sets, one per tier config, each rendered as ``mlops admission render`` renders them (environment
``eqv-<tier>``) with every binding turned to ``Warn`` so that one request reports every failing rule:

- ``eqv`` (prod's config): the rule tables and the mutation corpus; ``eqv-<n>``: one rule each (for a
  request whose warnings the API server truncates); ``eqv-raw``: no policy (the object as held);
- each bundled environment's own namespace, with its tier's policies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops_platform.policies.admission import Target, render
from mlops_platform.policies.catalogue import RULES, config_document
from mlops_platform.policies.rules._cel import SHARED
from mlops_platform.tools.local_cluster import LocalCluster, running, toolchain_binaries
from tests.admission.apiserver import ApiServer, wait_for_policies
from tests.admission.equivalence import CEL_RULES, binding_for, pack_verdicts, probe_namespace
from tests.realengine.conftest import require_tool

JUDGED_NS = "eqv"
RAW_NS = "eqv-raw"
TIER_NAMESPACES = {"prod": ["mlops-prod", JUDGED_NS], "staging": ["mlops-staging"], "dev": ["mlops-dev"]}


@dataclass(frozen=True)
class Judge:
    """The installed policy sets: where to send an object to have it judged with a tier's config."""

    api: ApiServer
    per_rule_ns: dict[str, str]

    def environment(self, tier: str) -> str:
        return f"eqv-{tier}"

    @staticmethod
    def config(tier: str) -> dict[str, Any]:
        return config_document(tier)


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    binaries = toolchain_binaries()
    if binaries is None:
        require_tool("the control plane (kube-apiserver, etcd)")
    assert binaries is not None
    directory: Path = tmp_path_factory.mktemp("admission-cluster")
    with running(directory, binaries, controllers=False, allow_privileged=True) as started:
        yield started


@pytest.fixture(scope="session")
def api(control_plane: LocalCluster) -> ApiServer:
    client = ApiServer(control_plane)
    _install_crds(control_plane)
    client.forget_discovery()
    return client


def _install_crds(cluster: LocalCluster) -> None:
    from mlops_platform.tools.cluster_prereqs import api_client, crd_only_files, install_crds, read_crds
    from mlops_platform.tools.toolchain import ToolchainError, crd_files

    try:
        files = crd_only_files(f for group in crd_files().values() for f in group)
    except ToolchainError:
        return  # the custom kinds are then not served: their objects are left out, and said so
    install_crds(api_client(str(cluster.kubeconfig)), read_crds(files))


@pytest.fixture(scope="session")
def judge(api: ApiServer) -> Judge:
    per_rule = {r.name: f"eqv-{i}" for i, r in enumerate(CEL_RULES)}
    for name in [JUDGED_NS, RAW_NS, *per_rule.values(), *(ns for n in TIER_NAMESPACES.values() for ns in n)]:
        _ensure(api, namespace(name))
        # Pods need their ServiceAccount (the API server's ServiceAccount admission); with no
        # controller manager here, nothing creates the namespace's `default` one.
        _ensure(
            api,
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": name},
            },
        )
    for tier, namespaces in TIER_NAMESPACES.items():
        environment = f"eqv-{tier}"
        rendered = render(RULES, Target(environment, namespaces[0], tier), config_document(tier), (), SHARED)
        for policy in rendered.policies:
            api.apply(policy)
        for policy in rendered.policies:
            rule = policy["metadata"]["labels"]["mlops.dev/rule"]
            extra = [per_rule[rule]] if tier == "prod" else []
            probes = [probe_namespace(n) for n in namespaces]
            api.apply(binding_for(environment, rule, [*namespaces, *probes, *extra]))
    _wait_until_judging(api)
    return Judge(api, per_rule)


def _ensure(api: ApiServer, obj: dict[str, Any]) -> None:
    if api.get(obj) is None:
        api.apply(obj)


def _wait_until_judging(api: ApiServer) -> None:
    """Every policy of every set judges requests: a probe failing many rules, until each set reports
    as many rules as the packs do on it (the API server loads policies asynchronously)."""
    probe = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "probe", "labels": {}},
        "spec": {
            "selector": {"matchLabels": {"app": "probe"}},
            "template": {
                "metadata": {"labels": {"app": "probe"}},
                "spec": {
                    "containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]
                },
            },
        },
    }
    for tier, namespaces in TIER_NAMESPACES.items():
        environment = f"eqv-{tier}"
        expected = {r for r, m in pack_verdicts(probe, config_document(tier)).items() if m}
        for ns in namespaces:
            wait_for_policies(
                api,
                {**probe, "metadata": {**probe["metadata"], "namespace": ns}},
                f"mlops.{environment}.workload-no-privileged",
            )
            deadline = time.monotonic() + 30
            while True:
                verdict = api.create({**probe, "metadata": {**probe["metadata"], "namespace": ns}})
                assert verdict is not None
                got = {p.removeprefix(f"mlops.{environment}.") for p in verdict.warned}
                if got >= expected or verdict.truncated or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
