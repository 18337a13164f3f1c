"""Capture fidelity: what the engine would receive from the fixture program, and nothing secret in clear."""

from __future__ import annotations

import json
from dataclasses import asdict

from mlops_platform.tools.engine.capture import Capture, capture_program, make_urn, mock_id, placeholder
from mlops_platform.tools.engine.config import StackConfig
from mlops_platform.tools.findings import SECRET_MARKER, CapturedResource
from tests.engine.conftest import PROGRAM, STACK

SERVICE = f"{STACK}fixture:index:Service"


def by_name(capture: Capture) -> dict[str, CapturedResource]:
    return {r.name: r for r in capture.resources}


def test_every_registration_is_captured_with_engine_urns(capture: Capture) -> None:
    urns = {r.urn for r in capture.resources}
    assert urns == {
        f"{STACK}pulumi:pulumi:Stack::mlops-platform-fixture",
        f"{STACK}pulumi:providers:docker::default_5_2_0",
        f"{STACK}pulumi:providers:kubernetes::default_4_34_2",
        f"{STACK}pulumi:providers:random::default_4_21_4",
        f"{STACK}pulumi:providers:kubernetes::local",
        f"{STACK}kubernetes:core/v1:Namespace::ns",
        *(
            f"{SERVICE}{suffix}"
            for svc in ("web", "worker")
            for suffix in (
                f"::{svc}",
                f"$random:index/randomPassword:RandomPassword::{svc}-password",
                f"$kubernetes:core/v1:Secret::{svc}-secret",
                f"$kubernetes:apps/v1:Deployment::{svc}-deployment",
                f"$docker:index/remoteImage:RemoteImage::{svc}-image",
                f"$docker:index/container:Container::{svc}-container",
            )
        ),
    }


def test_urns_carry_the_full_parent_type_chain_and_skip_the_root_stack() -> None:
    parent = make_urn(
        "prod", "p", "urn:pulumi:prod::p::pulumi:pulumi:Stack::p-prod", "mlops:serving:ServingStack", "s"
    )
    child = make_urn("prod", "p", parent, "mlops:serving:ModelEndpoint", "m")
    grandchild = make_urn("prod", "p", child, "kubernetes:apps/v1:Deployment", "m-dep")
    assert parent == "urn:pulumi:prod::p::mlops:serving:ServingStack::s"
    assert grandchild == (
        "urn:pulumi:prod::p::mlops:serving:ServingStack$mlops:serving:ModelEndpoint$kubernetes:apps/v1:Deployment::m-dep"
    )


def test_parents_providers_and_dependencies(capture: Capture) -> None:
    r = by_name(capture)
    assert r["web-deployment"].parent == f"{SERVICE}::web"
    assert r["web"].parent == f"{STACK}pulumi:pulumi:Stack::mlops-platform-fixture"
    assert r["web"].custom is False and r["web-deployment"].custom is True
    # An explicit provider passed down by the component; the default provider otherwise.
    assert r["web-secret"].provider == f"{STACK}pulumi:providers:kubernetes::local"
    assert r["worker-secret"].provider == f"{STACK}pulumi:providers:kubernetes::default_4_34_2"
    assert r["default_4_34_2"].inputs == {"context": "kind-fixture", "version": "4.34.2"}
    assert r["web"].dependencies == (f"{STACK}kubernetes:core/v1:Namespace::ns",)
    assert set(r["web-container"].dependencies) == {
        f"{SERVICE}$random:index/randomPassword:RandomPassword::web-password",
        f"{SERVICE}$docker:index/remoteImage:RemoteImage::web-image",
    }
    assert r["web-container"].property_dependencies["image"] == (
        f"{SERVICE}$docker:index/remoteImage:RemoteImage::web-image",
    )


def test_resource_options(capture: Capture) -> None:
    r = by_name(capture)
    deployment = r["web-deployment"]
    assert deployment.protect is True
    assert deployment.ignore_changes == ("spec.replicas",)
    assert deployment.custom_timeouts == {"create": "5m"}
    container = r["web-container"]
    assert container.delete_before_replace is True
    assert container.retain_on_delete is True
    assert r["web-secret"].delete_before_replace is None
    assert r["web-password"].additional_secret_outputs == ("bcryptHash", "result")


def test_alias_specs_are_resolved_to_urns_and_inherited_by_children(capture: Capture) -> None:
    r = by_name(capture)
    assert r["web"].aliases == (f"{SERVICE}::frontend",)
    # The child is known under its parent's alias with the parent's name prefix renamed.
    assert r["web-password"].aliases == (
        f"{SERVICE}$random:index/randomPassword:RandomPassword::frontend-password",
    )
    assert f"{SERVICE}$kubernetes:apps/v1:Deployment::frontend-deployment" in r["web-deployment"].aliases
    # SDK-declared type aliases of the provider package are kept.
    assert f"{SERVICE}$kubernetes:apps/v1beta1:Deployment::web-deployment" in r["web-deployment"].aliases
    assert r["worker"].aliases == ()


def test_additional_secret_outputs_make_consumers_secret(capture: Capture) -> None:
    r = by_name(capture)
    # RandomPassword.result is secret only through additionalSecretOutputs under mocks.
    assert r["web-secret"].inputs["stringData"] == SECRET_MARKER
    assert r["web-container"].inputs["envs"] == [SECRET_MARKER]
    assert capture.outputs["webPassword"] == SECRET_MARKER


def test_computed_outputs_and_ids_get_marked_placeholders(capture: Capture) -> None:
    image_type = "docker:index/remoteImage:RemoteImage"
    assert by_name(capture)["worker-container"].inputs["image"] == placeholder(
        image_type, "worker-image", "repoDigest"
    )
    assert capture.outputs["workerImage"] == f"mock:{image_type}:worker-image:repoDigest"
    assert capture.outputs["namespace"] == "fixture"
    assert mock_id("web-image") == "web-image-mock-id"


def test_secrets_never_appear_in_plaintext(capture: Capture, stack_config: StackConfig) -> None:
    known = {
        stack_config.values["mlops-platform:apiToken"],
        placeholder("random:index/randomPassword:RandomPassword", "web-password", "result"),
    }
    assert known <= capture.secret_values
    dumped = json.dumps([asdict(r) for r in capture.resources]) + json.dumps(capture.outputs)
    for secret in known:
        assert secret not in dumped
    assert capture.redact(f"token={sorted(known)[0]}") == "token=[secret]"


def test_two_captures_are_identical_and_independent(capture: Capture, stack_config: StackConfig) -> None:
    again = capture_program(PROGRAM, stack_config)
    assert again.resources == capture.resources
    assert again.outputs == capture.outputs
    other = StackConfig("other", stack_config.project, dict(stack_config.values), stack_config.secret_keys)
    moved = capture_program(PROGRAM, other)
    assert {r.urn.replace("urn:pulumi:other::", "urn:pulumi:fixture::") for r in moved.resources} == {
        r.urn.replace("mlops-platform-fixture", "mlops-platform-other") for r in capture.resources
    }
