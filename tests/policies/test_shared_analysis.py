"""The packs' shared analysis: the SDK's servicer with one conversion per request, same answers.

Every test compares against pulumi-policy's own ``_PolicyAnalyzerServicer`` on the same requests:
identical responses (byte for byte), no value of one resource in another's verdict, other policies
still isolated from ours.
"""

from __future__ import annotations

import copy
import json
import math
import threading
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy import policy as sdk
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from mlops_platform.policies import sdk_adapter
from mlops_platform.policies.catalogue import PACKS, RULES
from mlops_platform.policies.packs import build_policy, pack_arguments, to_res
from mlops_platform.policies.rules._model import _SENTINELS, plain
from mlops_platform.policies.sdk_adapter import (
    SdkVersionError,
    install_shared_analysis,
    shared_analysis_servicer,
    struct_to_dict,
)
from tests.policies.policy_fixtures import (
    DELETE,
    UNKNOWN_STRING_VALUE,
    R,
    container,
    deployment,
    docker_stack,
    k8s_stack,
    secret,
)

SharedServicer = shared_analysis_servicer()


def _servicer(cls: type, pack: str, extra: list[Any] | None = None) -> Any:
    args = pack_arguments(pack)
    policies = list(args["policies"]) + list(extra or [])
    return cls(pack, "1.0.0", policies, EnforcementLevel.MANDATORY, None)


def _request(res: R) -> Any:
    props = struct_pb2.Struct()
    props.update(res.props)
    return analyzer_pb2.AnalyzeRequest(
        type=res.type,
        properties=props,
        urn=res.urn,
        name=res.name,
        options=analyzer_pb2.AnalyzerResourceOptions(
            protect=res.protect, additionalSecretOutputs=list(res.secret_outputs)
        ),
    )


def _stack_request(resources: list[R]) -> Any:
    items = []
    for res in resources:
        req = _request(res)
        items.append(
            analyzer_pb2.AnalyzerResource(
                type=req.type, properties=req.properties, urn=req.urn, name=req.name, options=req.options
            )
        )
    return analyzer_pb2.AnalyzeStackRequest(resources=items)


def _bytes(response: Any) -> bytes:
    return response.SerializeToString(deterministic=True)


def _privileged() -> R:
    return deployment("risky").mutate("spec.template.spec.containers.0.securityContext.privileged", True)


def _resources() -> list[R]:
    """Compliant baselines of both targets, violating mutations, an unknown value and a secret."""
    return [
        *k8s_stack(),
        *docker_stack(),
        _privileged(),
        deployment("bare").mutate("metadata.labels", {}),
        deployment("single", replicas=1).mutate("spec.template.spec.containers.0.livenessProbe", DELETE),
        deployment("later").mutate("spec.template.spec.containers.0.image", UNKNOWN_STRING_VALUE),
        container().mutate("envs", ["API_TOKEN=ghp_" + "a" * 36]),
        deployment("secret-env").mutate(
            "spec.template.spec.containers.0.env", [{"name": "DB_PASSWORD", "value": secret("hunter22")}]
        ),
    ]


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_analyze_answers_exactly_as_the_sdk_servicer(pack: str) -> None:
    sdk_servicer, shared = _servicer(sdk._PolicyAnalyzerServicer, pack), _servicer(SharedServicer, pack)
    answered_with_violations = 0
    for res in _resources():
        expected = sdk_servicer.Analyze(_request(res), None)
        got = shared.Analyze(_request(res), None)
        assert _bytes(got) == _bytes(expected), res.urn
        answered_with_violations += bool(expected.diagnostics)
    assert answered_with_violations > 0  # the comparison covered violations, not only clean answers


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_analyze_stack_answers_exactly_as_the_sdk_servicer(pack: str) -> None:
    for resources in (k8s_stack(), docker_stack(), [*k8s_stack(), _privileged()]):
        request = _stack_request(resources)
        expected = _servicer(sdk._PolicyAnalyzerServicer, pack).AnalyzeStack(request, None)
        assert _bytes(_servicer(SharedServicer, pack).AnalyzeStack(request, None)) == _bytes(expected)


def test_no_value_of_one_resource_reaches_another_verdict() -> None:
    """Same URN, different props, alternating: each answer is that request's own."""
    shared = _servicer(SharedServicer, "mlops-security")
    clean, risky = (
        deployment("api"),
        deployment("api").mutate("spec.template.spec.containers.0.securityContext.privileged", True),
    )
    verdicts = [shared.Analyze(_request(res), None) for res in (clean, risky, clean, risky)]
    names = [{d.policyName for d in v.diagnostics} for v in verdicts]
    assert names[0] == names[2] == set()
    assert names[1] == names[3] and "workload-no-privileged" in names[1]


def test_concurrent_requests_get_their_own_views() -> None:
    """The pack serves 4 threads: a request's shared view is per thread, never another request's."""
    shared = _servicer(SharedServicer, "mlops-security")
    resources = [
        deployment(f"m{i}") if i % 2 else _privileged().mutate("metadata.name", f"m{i}") for i in range(40)
    ]
    expected = [
        _bytes(_servicer(sdk._PolicyAnalyzerServicer, "mlops-security").Analyze(_request(r), None))
        for r in resources
    ]
    got: dict[int, bytes] = {}

    def work(indexes: range) -> None:
        for i in indexes:
            got[i] = _bytes(shared.Analyze(_request(resources[i]), None))

    threads = [threading.Thread(target=work, args=(range(k, 40, 4),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[i] for i in range(40)] == expected


def _mutating_policy(seen: list[Any]) -> ResourceValidationPolicy:
    """A policy from another library that writes into its props (the SDK's proxy allows it)."""

    def validate(args: Any, report_violation: Any) -> None:
        seen.append(dict(args.props["metadata"]["labels"]))
        args.props["metadata"] = {"labels": {}}

    return ResourceValidationPolicy(name="aaa-foreign-mutator", description="mutates", validate=validate)


def test_other_policies_keep_their_own_conversion() -> None:
    """A foreign policy that mutates its props changes nothing for ours, exactly as with the SDK."""
    risky = deployment("bare").mutate("metadata.labels", {})
    for res in (deployment("api"), risky):
        seen_sdk: list[Any] = []
        seen_shared: list[Any] = []
        expected = _servicer(sdk._PolicyAnalyzerServicer, "mlops-governance", [_mutating_policy(seen_sdk)])
        shared = _servicer(SharedServicer, "mlops-governance", [_mutating_policy(seen_shared)])
        assert _bytes(shared.Analyze(_request(res), None)) == _bytes(expected.Analyze(_request(res), None))
        assert seen_shared == seen_sdk


def test_only_policies_built_here_share() -> None:
    ours = build_policy(RULES[0])
    assert sdk_adapter._shares(ours)
    foreign = StackValidationPolicy(name="x", description="x", validate=lambda args, report: None)
    assert not sdk_adapter._shares(foreign)


def test_rules_do_not_mutate_what_they_are_given() -> None:
    """The shared ``Res`` is handed to every rule of a pack: no rule may write into it."""
    resources = [to_res(r.type, r.name, r.urn, unknown_checking_proxy(r.props), None) for r in _resources()]
    for rule in RULES:
        defaults = rule.defaults()
        if rule.stack:
            before = copy.deepcopy(resources)
            rule.check(resources, defaults)
            assert resources == before, rule.name
            continue
        for res in resources:
            before_props = copy.deepcopy(res.props)
            rule.check(res, defaults)
            assert res.props == before_props, (rule.name, res.urn)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(2**52), 2**52)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_struct_to_dict_is_message_to_dict(value: dict[str, Any]) -> None:
    struct = struct_pb2.Struct()
    struct.update(value)
    expected = json_format.MessageToDict(struct)
    got = struct_to_dict(struct)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # same key order and number types


@pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
def test_struct_to_dict_refuses_what_message_to_dict_refuses(number: float) -> None:
    struct = struct_pb2.Struct()
    struct["x"] = number
    with pytest.raises(ValueError) as sdk_error:
        json_format.MessageToDict(struct)
    with pytest.raises(ValueError) as ours:
        struct_to_dict(struct)
    assert str(ours.value) == str(sdk_error.value)


def test_fresh_props_are_the_sdk_conversion() -> None:
    res = deployment("secret-env").mutate(
        "spec.template.spec.containers.0.env", [{"name": "DB_PASSWORD", "value": secret("hunter22")}]
    )
    request = _request(res)
    expected = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(request.properties)))
    assert to_res(res.type, res.name, res.urn, sdk_adapter._fresh_props(request.properties), None) == to_res(
        res.type, res.name, res.urn, expected, None
    )


def test_config_env_is_parsed_once_and_again_when_it_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi

    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"mlops-platform:a": "1", "kubernetes:ns": "x"}))
    assert sdk_adapter._config_env() == pulumi.runtime.get_config_env()
    cached = sdk_adapter._CONFIG_CACHE[1]
    assert sdk_adapter._config_env() == pulumi.runtime.get_config_env()
    assert sdk_adapter._CONFIG_CACHE[1] is cached
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"mlops-platform:a": "2"}))
    assert sdk_adapter._config_env() == {"mlops-platform:a": "2"} == pulumi.runtime.get_config_env()
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"mlops-platform:obj": {"k": "v"}}))
    first = sdk_adapter._config_env()
    first["mlops-platform:obj"]["k"] = "changed"  # mutable values are never shared between calls
    assert sdk_adapter._config_env() == {"mlops-platform:obj": {"k": "v"}}
    monkeypatch.delenv("PULUMI_CONFIG")
    assert sdk_adapter._config_env() == {}


def test_install_replaces_the_servicer_policy_pack_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk, "_PolicyAnalyzerServicer", sdk._PolicyAnalyzerServicer)
    original = sdk._PolicyAnalyzerServicer
    assert install_shared_analysis() is True
    installed = sdk._PolicyAnalyzerServicer
    assert issubclass(installed, original) and installed is not original
    assert install_shared_analysis() is True and sdk._PolicyAnalyzerServicer is installed  # idempotent


def test_install_refuses_other_sdk_versions_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk, "_PolicyAnalyzerServicer", sdk._PolicyAnalyzerServicer)
    original = sdk._PolicyAnalyzerServicer
    monkeypatch.setattr(sdk_adapter.metadata, "version", lambda name: "9.9.9")
    expected = r"pulumi-policy 9\.9\.9 is installed; .* only\. Install pulumi-policy==1\.21\.0"
    with pytest.raises(SdkVersionError, match=expected):
        install_shared_analysis()
    with pytest.raises(SdkVersionError, match=expected):
        shared_analysis_servicer()
    assert sdk._PolicyAnalyzerServicer is original


# Leaves as the engine sends them: JSON values, every unknown sentinel, secrets (signature-wrapped).
wire_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.text(max_size=8)
    | st.sampled_from(sorted(_SENTINELS)),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=6), children, max_size=3)
        | children.map(secret)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), wire_values, max_size=5))
def test_plain_props_is_plain_of_the_sdk_proxy(value: dict[str, Any]) -> None:
    """Our policies' ``Res`` props, built without the proxy, are what ``plain`` makes of the proxy."""
    struct = struct_pb2.Struct()
    struct.update(value)
    via_proxy = plain(unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct))))
    assert sdk_adapter.plain_props(struct) == via_proxy


def test_deferred_views_read_as_the_sdk_objects() -> None:
    """Anything reading a shared policy's ``args.props`` or ``args.resources`` gets the SDK's objects."""
    resources = [deployment("api"), deployment("later").mutate("metadata.name", UNKNOWN_STRING_VALUE)]
    shared = _servicer(SharedServicer, "mlops-security")
    view = sdk_adapter._RequestView(shared, _request(resources[1]))
    props = view.deferred_props()
    assert dict(props) == dict(view.props()) and len(props) == len(view.props())
    stack_view = sdk_adapter._RequestView(shared, _stack_request(resources))
    listed = stack_view.deferred_stack_resources()
    assert [r.urn for r in listed] == [r.urn for r in stack_view.stack_resources()] and len(listed) == 2


def test_stack_resources_are_converted_only_when_a_policy_reads_them() -> None:
    resources = [deployment("api"), container()]
    view = sdk_adapter._RequestView(_servicer(SharedServicer, "mlops-reliability"), _stack_request(resources))
    lazy = view.stack_res()
    assert [r._plain for r in lazy] == [None, None]  # nothing converted yet
    eager = [
        to_res(r.type, r.name, r.urn, sdk_adapter._fresh_props(r.properties), None)  # the SDK's conversion
        for r in _stack_request(resources).resources
    ]

    def seen(items: list[Any]) -> list[tuple[str, str, str, Any]]:
        return [(r.type, r.name, r.urn, r.props) for r in items]

    assert seen(lazy) == seen(eager)
    assert all(r._plain is not None for r in lazy)


def test_plain_props_hands_signed_maps_to_the_sdk() -> None:
    """Secrets, assets and archives (maps with Pulumi's signature key) convert as the SDK converts them."""
    from pulumi_policy.deserialize import SPECIAL_ARCHIVE_SIG, SPECIAL_ASSET_SIG, SPECIAL_SIG_KEY

    struct = struct_pb2.Struct()
    struct.update(
        {
            "password": secret("hunter22"),
            "nested": {"list": [secret({"k": UNKNOWN_STRING_VALUE}), 3]},
            "asset": {SPECIAL_SIG_KEY: SPECIAL_ASSET_SIG, "text": "hello"},
            "archive": {SPECIAL_SIG_KEY: SPECIAL_ARCHIVE_SIG, "path": "/tmp/a.zip"},
        }
    )
    expected = plain(unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct))))
    got = sdk_adapter.plain_props(struct)
    assert got["password"] == "hunter22" and got["nested"] == expected["nested"]
    assert got["asset"].text == expected["asset"].text == "hello"
    assert got["archive"].path == expected["archive"].path == "/tmp/a.zip"
