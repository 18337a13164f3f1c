"""The prerequisite knowledge of ``mlops_platform.tools.cluster_prereqs``, without a cluster (see
tests/cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.tools.cluster_prereqs import (
    GATEWAY_API,
    PROMETHEUS_OPERATOR,
    Kind,
    PrerequisiteError,
    custom_kinds,
    kind_of,
    kinds_of,
    missing_message,
    read_crds,
)
from mlops_platform.tools.engine.audit import capture_environment

REPO = Path(__file__).resolve().parents[2]


def test_type_tokens_become_discovery_kinds() -> None:
    assert kind_of("kubernetes:apps/v1:Deployment") == Kind("apps", "v1", "Deployment")
    assert kind_of("kubernetes:core/v1:Service") == Kind("", "v1", "Service")
    assert kind_of("kubernetes:monitoring.coreos.com/v1:ServiceMonitor") == Kind(
        "monitoring.coreos.com", "v1", "ServiceMonitor"
    )
    assert kind_of("pulumi:providers:kubernetes") is None
    assert kind_of("mlops:serving:ModelEndpoint") is None
    assert str(Kind("", "v1", "Service")) == "v1 Service"


def test_prod_needs_both_operators_and_dev_neither() -> None:
    prod = kinds_of(r.type for r in capture_environment(REPO / "stacks" / "Pulumi.prod.yaml").resources)
    needs = custom_kinds(prod)
    assert {k.kind for k in needs[PROMETHEUS_OPERATOR]} == {
        "Alertmanager",
        "Prometheus",
        "PrometheusRule",
        "ServiceMonitor",
    }
    assert [k.kind for k in needs[GATEWAY_API]] == ["HTTPRoute"]
    dev = kinds_of(r.type for r in capture_environment(REPO / "stacks" / "Pulumi.dev.yaml").resources)
    assert custom_kinds(dev) == {}


def test_the_missing_kinds_message_names_feature_provider_and_way_out() -> None:
    text = missing_message(
        "prod",
        [Kind("gateway.networking.k8s.io", "v1", "HTTPRoute"), Kind("batch", "v2", "CronJob")],
    )
    assert text.splitlines()[0] == "prod: the cluster does not serve 2 kind(s) the program creates:"
    assert "gateway.networking.k8s.io/v1 HTTPRoute" in text
    assert "canary" in text and "remove `canary`" in text
    assert "batch/v2 CronJob: this API version is not served" in text
    assert text.endswith("`mlops up --install-crds FILE...` applies CRD files you name first.")


def test_crd_sources_must_hold_only_crds(tmp_path: Path) -> None:
    crd = tmp_path / "crd.yaml"
    crd.write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: a.b}\n"
    )
    assert [d["metadata"]["name"] for d in read_crds([str(tmp_path)])] == ["a.b"]
    (tmp_path / "other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(PrerequisiteError, match="holds a 'ConfigMap', not only CRDs"):
        read_crds([str(tmp_path)])
    with pytest.raises(PrerequisiteError, match=r"missing\.yaml"):
        read_crds([str(tmp_path / "missing.yaml")])
