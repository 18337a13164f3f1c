"""Every rule is one complete declaration next to its check, declared once, and collected.

The catalogue, the packs, the tier files, ``policies/README.md`` and the audit's evidence are all
derived from these declarations (``mlops_platform.policies.declaration``), so what they must hold is
checked here, on the declarations themselves; an incomplete one is refused where it is made.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
from pulumi_policy import EnforcementLevel, Severity

from mlops_platform.policies import rules as rules_package
from mlops_platform.policies.catalogue import (
    REGISTRY_RULE_MODULES,
    RULE_MODULES,
    RULES,
    RULES_BY_NAME,
    collect,
)
from mlops_platform.policies.controls import Coverage, full
from mlops_platform.policies.declaration import (
    MANDATORY_IN_PROD,
    NotInCel,
    ResourceRule,
    Rule,
    RuleDeclarationError,
    StackRule,
    declared_in,
)
from mlops_platform.policies.evidence import EvidenceSelector
from mlops_platform.policies.rules import security
from mlops_platform.validation import Tier

SECURITY_PY = Path(security.__file__)


def test_every_rule_declaration_is_complete() -> None:
    for rule in RULES:
        assert isinstance(rule, ResourceRule | StackRule), rule.name
        assert rule.problems() == [], rule.name
        assert rule.description and rule.remediation and rule.applies_to.summary, rule.name
        assert rule.mappings, f"{rule.name}: at least one control mapping"
        for m in rule.mappings:
            assert m.rationale, (rule.name, m.control)
            assert bool(m.missing) == (m.coverage is Coverage.PARTIAL), (rule.name, m.control)
        assert rule.evidence.reads, f"{rule.name}: an evidence selector"
        assert isinstance(rule.severity, Severity), rule.name
        assert set(rule.levels) == set(Tier), rule.name
        assert all(isinstance(level, EnforcementLevel) for level in rule.levels.values()), rule.name


def test_no_rule_is_declared_twice() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names)) == len(RULES_BY_NAME)


def test_each_rule_is_declared_in_the_module_of_its_check() -> None:
    for module in (*RULE_MODULES, *REGISTRY_RULE_MODULES):
        for rule in declared_in(module):
            assert rule.check.__module__ == module.__name__, rule.name


def test_every_module_that_declares_rules_is_collected() -> None:
    declaring = set()
    for info in pkgutil.iter_modules(rules_package.__path__):
        module = importlib.import_module(f"{rules_package.__name__}.{info.name}")
        if declared_in(module):
            declaring.add(module.__name__)
    assert declaring == {m.__name__ for m in (*RULE_MODULES, *REGISTRY_RULE_MODULES)}


def _refusal(rule: Rule, **changes: object) -> str:
    with pytest.raises(RuleDeclarationError) as refused:
        replace(rule, **changes)  # type: ignore[arg-type]
    return str(refused.value)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"mappings": ()}, "maps to no control"),
        ({"remediation": " "}, "no remediation"),
        ({"description": ""}, "no description"),
        ({"evidence": EvidenceSelector(reads=())}, "no evidence selector (what the rule reads)"),
        ({"targets": ()}, "targets must be some of kubernetes, docker"),
        ({"name": "NoPrivileged"}, "name must be <resource>-<check>"),
        ({"severity": "critical"}, "severity must be a pulumi_policy Severity"),
        ({"pack": "mlops-security"}, "pack must be a Pack: mlops-security, mlops-reliability"),
        (
            {"mappings": (full("nist-800-53:XX-99", rationale="r"),)},
            "nist-800-53:XX-99: no title in policies/controls.py CONTROL_TITLES",
        ),
        ({"mappings": (full("pci-dss:1.1", rationale="r"),)}, "pci-dss:1.1: unknown framework"),
        (
            {"levels": {Tier.DEV: EnforcementLevel.ADVISORY}},
            "levels must give an EnforcementLevel for each tier: dev, staging, prod",
        ),
        ({"knobs": {Tier.PROD: {"minReplicas": 2}}}, "knobs of prod not in the schema: minReplicas"),
        ({"admission": "size(object) > 0"}, "admission: declare its CEL validation (Cel) or why it has none"),
        ({"admission": NotInCel(" ")}, "admission: NotInCel must say why"),
        ({"targets": ("docker",)}, "admission: a rule without the kubernetes target has no admission policy"),
    ],
)
def test_an_incomplete_declaration_is_refused_where_it_is_made(
    changes: dict[str, object], problem: str
) -> None:
    message = _refusal(RULES_BY_NAME["workload-no-privileged"], **changes)
    assert message.startswith(f"{SECURITY_PY}:"), message  # the check's file and line
    assert problem in message


def test_a_complete_declaration_is_accepted() -> None:
    rule = replace(RULES_BY_NAME["workload-no-privileged"], levels=MANDATORY_IN_PROD)
    assert rule.config_for("staging") == {"enforcementLevel": "advisory"}


def _module(name: str, **attrs: object) -> ModuleType:
    module = ModuleType(name)
    vars(module).update(attrs)
    return module


def test_collecting_a_name_declared_twice_is_refused() -> None:
    rule = RULES_BY_NAME["workload-no-privileged"]
    first = _module("first", WORKLOAD_NO_PRIVILEGED=rule)
    again = _module("again", WORKLOAD_NO_PRIVILEGED=replace(rule, description="Again."))
    with pytest.raises(RuleDeclarationError, match="rule 'workload-no-privileged' is already declared at"):
        collect((first, again))


def test_a_rule_bound_under_another_name_is_refused() -> None:
    rule = RULES_BY_NAME["workload-no-privileged"]
    aliased = _module("aliased", WORKLOAD_NO_PRIVILEGED=rule, NO_PRIVILEGED=rule)
    with pytest.raises(RuleDeclarationError, match="must be declared as WORKLOAD_NO_PRIVILEGED, once"):
        declared_in(aliased)


def test_only_a_registry_rule_belongs_to_the_audits_own_checks() -> None:
    from mlops_platform.policies.catalogue import REGISTRY_RULES_BY_NAME
    from mlops_platform.policies.declaration import Pack

    expected = "a RegistryRule, and only one, belongs to 'supply-chain'"
    assert expected in _refusal(RULES_BY_NAME["workload-no-privileged"], pack=Pack.SUPPLY_CHAIN)
    assert expected in _refusal(REGISTRY_RULES_BY_NAME["image-digest-resolves"], pack=Pack.SECURITY)
