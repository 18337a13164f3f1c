"""The generated catalogue and config files are current, and rules survive arbitrary input."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_platform.policies import catalogue
from mlops_platform.policies.rules._model import Res, plain
from tests.policies.policy_fixtures import UNKNOWN_STRING_VALUE

RESOURCE_TYPES = [
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
    "kubernetes:core/v1:Service",
    "kubernetes:core/v1:ConfigMap",
    "kubernetes:core/v1:Namespace",
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
    "docker:index/container:Container",
    "docker:index/network:Network",
]


def test_generated_files_are_up_to_date() -> None:
    assert catalogue.main(["--check"]) == 0, "run: python -m mlops_platform.policies.catalogue"


def test_readme_lists_every_rule_with_levels_and_controls() -> None:
    text = catalogue.README.read_text()
    for rule in catalogue.RULES:
        assert f"### {rule.name}" in text
        assert f"`{rule.controls[0]}`" in text
    assert "control:<framework>:<control-id>" in text


def test_every_rule_has_metadata() -> None:
    for rule in catalogue.RULES:
        assert rule.remediation and rule.description and rule.spec_title, rule.name
        assert all(c.split(":", 1)[0] in catalogue.FRAMEWORKS for c in rule.controls), rule.name
        assert rule.targets, rule.name
        for env in catalogue.ENVIRONMENTS:
            assert set(rule.knobs.get(env, {})) <= set(rule.schema), (rule.name, env)
    ml_rules = [r for r in catalogue.RULES if r.name.startswith("model-")]
    assert ml_rules and all(
        any(c.startswith(("eu-ai-act:", "nist-ai-rmf:")) for c in r.controls) for r in ml_rules
    )


json_leaf = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=8), st.just(UNKNOWN_STRING_VALUE)
)
keys = st.sampled_from(
    [
        "metadata",
        "spec",
        "template",
        "containers",
        "labels",
        "securityContext",
        "image",
        "env",
        "name",
        "value",
        "ports",
        "ip",
        "envs",
        "volumes",
        "hostPath",
        "replicas",
        "tls",
        "rules",
        "data",
        "uploads",
        "content",
        "capabilities",
        "drops",
        "adds",
        "healthcheck",
        "tests",
        "annotations",
        "jobTemplate",
        "groups",
    ]
)
json_values = st.recursive(
    json_leaf,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(keys, children, max_size=4)),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(type_=st.sampled_from(RESOURCE_TYPES), props=st.dictionaries(keys, json_values, max_size=5))
def test_rules_never_raise_on_odd_input(type_: str, props: dict[str, Any]) -> None:
    res = Res(type=type_, name="x", urn="urn:x", props=plain(props))
    for rule in catalogue.RULES:
        config = rule.defaults()
        if rule.stack:
            rule.check([res, res], config)
        else:
            rule.check(res, config)
