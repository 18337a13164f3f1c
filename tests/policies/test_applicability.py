"""Applicability never hides a finding: outside a rule's declared scope, the rule itself finds nothing.

Run on every resource of the three bundled environments (Docker dev, Kubernetes staging and prod) and
on the rule tests' baselines: where ``applies_to`` says no, the rule's own check must return nothing,
so answering not-applicable there changes no finding, only what is counted as a check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.policies.catalogue import RULES
from mlops_platform.policies.declaration import Rule
from mlops_platform.policies.packs import _config
from mlops_platform.policies.rules._model import Res
from mlops_platform.policies.rules._scopes import REGISTRY_CONSULTED
from mlops_platform.tools.engine.audit import capture_environment
from tests.policies.policy_fixtures import ROOT, env_config

ENVIRONMENTS = ("dev", "staging", "prod")


def _captured(env: str) -> list[Res]:
    capture = capture_environment(ROOT / "stacks" / f"Pulumi.{env}.yaml")
    return [
        Res(
            type=r.type,
            name=r.name,
            urn=r.urn,
            props=r.inputs,
            protect=r.protect,
            secret_outputs=r.additional_secret_outputs,
        )
        for r in capture.resources
    ]


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> tuple[str, list[Res]]:
    return request.param, _captured(request.param)


def _cfg(rule: Rule, env: str) -> dict[str, object]:
    return _config(rule, env_config(env, rule.name))


def test_out_of_scope_resources_yield_no_finding(environment: tuple[str, list[Res]]) -> None:
    env, resources = environment
    in_scope = 0
    for rule in (r for r in RULES if not r.stack):
        cfg = _cfg(rule, env)
        for res in resources:
            if rule.applies_to(res, cfg):
                in_scope += 1
                continue
            assert rule.check(res, cfg) == [], (env, rule.name, res.urn)
    assert in_scope, "some rule applies somewhere"


def test_stack_rules_out_of_scope_find_nothing(environment: tuple[str, list[Res]]) -> None:
    env, resources = environment
    for rule in (r for r in RULES if r.stack):
        cfg = _cfg(rule, env)
        out_of_scope = [r for r in resources if not rule.applies_to(r, cfg)]
        flagged = {urn for urn, _message in rule.check(resources, cfg)}
        assert not flagged & {r.urn for r in out_of_scope}, (env, rule.name)


def test_every_rule_applies_in_some_bundled_environment() -> None:
    """No rule is declared so narrowly that it never judges the platform's own resources."""
    seen: set[str] = set()
    for env in ENVIRONMENTS:
        resources = _captured(env)
        seen |= {r.name for r in RULES if any(r.applies_to(res, _cfg(r, env)) for res in resources)}
    # The platform routes through Gateway API HTTPRoutes: it declares no Ingress of its own. No bundled
    # environment names a model registry to consult (tests/registry points copies at a real one).
    registry = {r.name for r in RULES if r.applies_to is REGISTRY_CONSULTED}
    assert registry == {
        "model-version-resolved",
        "model-version-approved",
        "model-version-validated",
        "model-version-metrics",
        "model-version-model-card",
        "model-canary-newer-version",
    }
    assert {r.name for r in RULES} - seen == {"ingress-tls-required", *registry}


def test_pack_directories_do_not_reach_outside() -> None:
    """A pack is its directory: nothing in it names a path outside it."""
    for pack in ("mlops-security", "mlops-reliability", "mlops-governance"):
        main = (ROOT / "policies" / pack / "__main__.py").read_text()
        assert "sys.path" not in main and ".." not in main, pack
        assert Path(ROOT / "policies" / pack / "requirements.txt").exists()
