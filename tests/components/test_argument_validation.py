"""Components refuse invalid arguments at construction: one error naming the component and every field.

A program that builds components directly gets what the spec schema would say, worded the same
(``mlops_platform.validation`` is both's), before the component registers anything.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pulumi
import pytest

from mlops_platform.components.arg_checks import ComponentArgumentError
from mlops_platform.components.args import (
    CredentialArgs,
    DriftArgs,
    DriftStoreArgs,
    ImageRegistryArgs,
    ModelRegistryArgs,
    ModelSlo,
    ModelSource,
    MonitoringArgs,
    ReceiverArgs,
    RegistryArgs,
    ScrapeTarget,
    ServingArgs,
    VolumeArgs,
)
from mlops_platform.components.monitoring import MonitoringStack
from mlops_platform.components.registry import RegistryStack
from mlops_platform.components.serving import ModelEndpoint, ServingStack
from mlops_platform.components.storage import StorageStack
from mlops_platform.stacks import composition
from mlops_platform.stacks.loader import SpecError, load_environment
from tests.components.conftest import TEST_SEED, run_program

REPO = Path(__file__).resolve().parents[2]
DNS = "must be a DNS label: lowercase letters, digits and '-', starting with a letter"
IMAGE = "must be an image reference with a registry: registry/path:tag or @sha256:<digest>"
CREDENTIALS = CredentialArgs(seed=TEST_SEED)


@pytest.fixture(scope="module")
def spec() -> Any:
    return load_environment(REPO / "stacks" / "Pulumi.prod.yaml")


def _serving(spec: Any, **model_changes: Any) -> ServingArgs:
    model = composition.model_spec(spec, spec.serving.models[0])
    return ServingArgs(
        target=composition.Target.KUBERNETES,
        ownership=composition.ownership(spec),
        namespace="mlops-prod",
        registry_uri="http://mlflow:5000",
        models=[dataclasses.replace(model, **model_changes)],
    )


def _refused(build: Any) -> ComponentArgumentError:
    with pytest.raises(ComponentArgumentError) as caught:
        build()
    return caught.value


def test_the_issues_four_mistakes_are_refused_at_once(spec: Any) -> None:
    args = _serving(spec, name="Pump_RUL", replicas_min=5, replicas_max=2, image="img")
    model = args.models[0]
    args = dataclasses.replace(
        args,
        models=[
            dataclasses.replace(model, governance=dataclasses.replace(model.governance, risk_tier="hgih"))
        ],
    )
    error = _refused(lambda: ServingStack("serving", args))
    assert str(error).splitlines() == [
        f"ServingStack 'serving': models[0].name: {DNS} (got 'Pump_RUL')",
        f"ServingStack 'serving': models[0].image: {IMAGE} (got 'img')",
        "ServingStack 'serving': models[0].replicas_min: must be <= replicas_max (5 > 2)",
        "ServingStack 'serving': models[0].governance.risk_tier: must be one of 'minimal', 'limited', 'high' "
        "(got 'hgih')",
    ]
    assert (error.component, error.name) == ("ServingStack", "serving")


def test_a_refused_component_registers_nothing(spec: Any) -> None:
    def program() -> None:
        ServingStack("serving", _serving(spec, name="Pump_RUL"))

    with pytest.raises(ComponentArgumentError):
        run_program(program, stack="prod")


def test_endpoint_names_leave_room_for_the_role_suffixes(spec: Any) -> None:
    name = "a" * 41
    error = _refused(
        lambda: ModelEndpoint(
            "serving-x", _serving(spec, name=name).endpoint_args(_serving(spec, name=name).models[0])
        )
    )
    assert (
        str(error)
        == f"ModelEndpoint 'serving-x': model.name: must be at most 40 characters (got 41: {name!r})"
    )


def test_model_references_tell_one_story(spec: Any) -> None:
    args = _serving(
        spec,
        model_uri="models:/fraud-scorer/champion",
        model_source=ModelSource.REGISTRY_VERSION,
        version_label="41",
        canary=None,
    )
    error = _refused(lambda: ServingStack("serving", args))
    assert str(error).splitlines() == [
        "ServingStack 'serving': models[0].model_uri: a registry version is a number (got 'champion')",
        "ServingStack 'serving': models[0].version_label: must be the URI's version or alias 'champion' "
        "(got '41')",
    ]
    error = _refused(
        lambda: ServingStack("serving", _serving(spec, model_uri="s3://b/m", model_source="registry-alias"))
    )
    assert str(error) == (
        "ServingStack 'serving': models[0].model_uri: must be models:/<name>/<version-or-alias> with "
        "model_source registry-alias (got 's3://b/m')"
    )


def test_storage_checks_names_classes_and_access_modes(spec: Any) -> None:
    args = composition.storage_args(spec, CREDENTIALS)
    bad = dataclasses.replace(
        args,
        namespace="Prod",
        data_classification_ceiling="secret",
        volumes=[VolumeArgs(name="cache", size_gib=0, access_mode="ReadWriteAlways")],
    )
    assert str(_refused(lambda: StorageStack("storage", bad))).splitlines() == [
        f"StorageStack 'storage': namespace: {DNS} (got 'Prod')",
        "StorageStack 'storage': data_classification_ceiling: must be one of 'public', 'internal', "
        "'confidential', 'restricted' (got 'secret')",
        "StorageStack 'storage': volumes[0].size_gib: must be >= 1 (got 0)",
        "StorageStack 'storage': volumes[0].access_mode: must be one of 'ReadWriteOnce', 'ReadWriteMany', "
        "'ReadOnlyMany' (got 'ReadWriteAlways')",
    ]


def _registry(spec: Any) -> RegistryArgs:
    return RegistryArgs(
        target=composition.Target.KUBERNETES,
        ownership=composition.ownership(spec),
        namespace="mlops-prod",
        credentials=CREDENTIALS,
        model_registry=ModelRegistryArgs(image="ghcr.io/acme-ml/mlflow-server:2.16.2", artifact_bucket="m"),
        image_registry=ImageRegistryArgs(image="docker.io/library/registry:2.8.3", size_gib=1, auth="basic"),
        database_url="postgresql://x",
        object_store_endpoint="http://minio:9000",
        object_store_access_key="a",
        object_store_secret_key="b",
    )


def test_registry_checks_buckets_and_auth_kinds(spec: Any) -> None:
    assert str(_refused(lambda: RegistryStack("registry", _registry(spec)))).splitlines() == [
        "RegistryStack 'registry': model_registry.artifact_bucket: must be a bucket name: 3-63 lowercase "
        "letters, digits, '.' or '-' (got 'm')",
        "RegistryStack 'registry': image_registry.auth: must be one of 'htpasswd', 'none' (got 'basic')",
    ]


def test_monitoring_checks_receivers(spec: Any) -> None:
    args = MonitoringArgs(
        target=composition.Target.KUBERNETES,
        ownership=composition.ownership(spec),
        namespace="mlops-prod",
        credentials=CREDENTIALS,
        prometheus_image="docker.io/prom/prometheus:v2.54.1",
        alertmanager_image="docker.io/prom/alertmanager:v0.27.0",
        grafana_image="docker.io/grafana/grafana",
        pushgateway_image="docker.io/prom/pushgateway:v1.9.0",
        retention_days=15,
        receivers=[ReceiverArgs(name="oncall", kind="pager"), ReceiverArgs(name="mail", kind="email")],
    )
    assert str(_refused(lambda: MonitoringStack("monitoring", args))).splitlines() == [
        "MonitoringStack 'monitoring': grafana_image: must name a tag or a digest (registry/path:tag or "
        "registry/path@sha256:...)",
        "MonitoringStack 'monitoring': receivers[0].kind: must be one of 'email', 'webhook', 'slack' "
        "(got 'pager')",
        "MonitoringStack 'monitoring': receivers[1].email: an email receiver needs email",
    ]


def test_monitoring_refuses_drift_checks_without_a_store(spec: Any) -> None:
    target = ScrapeTarget(
        model="scorer",
        host="scorer",
        port=8080,
        slo=ModelSlo(p99_latency_ms=300, error_rate=0.01),
        drift=DriftArgs(schedule="0 * * * *"),
        image="ghcr.io/acme/scorer:1.0.0",
    )
    args = MonitoringArgs(
        target=composition.Target.KUBERNETES,
        ownership=composition.ownership(spec),
        namespace="mlops-prod",
        credentials=CREDENTIALS,
        prometheus_image="docker.io/prom/prometheus:v2.54.1",
        alertmanager_image="docker.io/prom/alertmanager:v0.27.0",
        grafana_image="docker.io/grafana/grafana:11.2.0",
        pushgateway_image="docker.io/prom/pushgateway:v1.9.0",
        retention_days=15,
        receivers=[ReceiverArgs(name="mail", kind="email", email="oncall@acme.example")],
        scrape_targets=[target],
    )
    assert str(_refused(lambda: MonitoringStack("monitoring", args))).splitlines() == [
        "MonitoringStack 'monitoring': drift_store: drift checks of scorer need drift_store",
    ]
    store = DriftStoreArgs(endpoint="http://minio:9000", access_key="a", secret_key="b", bucket="Bad_Bucket")
    with_store = dataclasses.replace(args, drift_store=store)
    assert str(_refused(lambda: MonitoringStack("monitoring", with_store))).splitlines() == [
        "MonitoringStack 'monitoring': drift_store.bucket: must be a bucket name: 3-63 lowercase letters, "
        "digits, '.' or '-' (got 'Bad_Bucket')",
    ]


def test_values_from_other_stacks_are_left_to_the_policies(spec: Any) -> None:
    """An Output (a StackReference's namespace) is unknown at construction: it is not refused."""

    def program() -> None:
        ServingStack(
            "serving", dataclasses.replace(_serving(spec), namespace=pulumi.Output.from_input("Not_Dns"))
        )

    recording = run_program(program, stack="prod")
    assert recording.of_type("mlops:serving:ServingStack")


def test_the_spec_and_the_components_say_the_same(spec: Any, tmp_path: Path) -> None:
    text = (
        (REPO / "stacks" / "Pulumi.prod.yaml")
        .read_text(encoding="utf-8")
        .replace("name: fraud-scorer\n", "name: Pump_RUL\n", 1)
    )
    (tmp_path / "Pulumi.prod.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_environment(tmp_path / "Pulumi.prod.yaml")
    spec_says = {p.message for p in caught.value.problems if p.path == "serving.models[0].name"}
    component_says = str(_refused(lambda: ServingStack("s", _serving(spec, name="Pump_RUL"))))
    assert spec_says == {f"{DNS} (got 'Pump_RUL')"}
    assert component_says == f"ServingStack 's': models[0].name: {DNS} (got 'Pump_RUL')"


def test_every_bundled_environment_passes_its_components_checks() -> None:
    """The composition of every bundled spec builds: the checks refuse nothing the spec accepts."""
    for env in ("dev", "staging", "prod"):
        spec = load_environment(REPO / "stacks" / f"Pulumi.{env}.yaml")
        for model in spec.serving.models:
            composition.model_spec(spec, model)
        recording = run_program(
            lambda spec=spec: composition.build_platform(
                spec, secret=lambda _k: pulumi.Output.secret("x" * 40)
            ),
            stack=env,
        )
        assert len(recording.of_type("mlops:serving:ModelEndpoint")) == len(spec.serving.models), env
