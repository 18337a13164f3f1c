"""One rule, two engines: the API server's verdict equals the packs' on the same object.

For every case of the rule test tables, every object of the bundled and broken environments and a
generated mutation corpus, the object is sent (dry run) to a real kube-apiserver where the catalogue's
admission policies warn, and the rules that fail there, with their messages, must be exactly those the
packs report on the object as the API server holds it (``equivalence.compare``). Where the packs'
verdict on the object as sent differs, the difference must be one of the named ones
(``mlops_platform.policies.admission.DIFFERENCES``). Objects the tests cannot send are classified by a
named difference too (unknown values, other providers); ``test_differences.py`` asserts each.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_platform.policies.admission import DIFFERENCE_IDS
from mlops_platform.tools.project import Project
from tests.admission.conftest import JUDGED_NS, RAW_NS, Judge
from tests.admission.corpus import mutation_corpus, table_cases
from tests.admission.equivalence import (
    Comparison,
    compare,
    has_unknown,
    to_object,
    without_secrets,
)
from tests.policies.policy_fixtures import R

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("admission")]

REPO = Path(__file__).resolve().parents[2]
OUTCOMES: Counter[str] = Counter()


def classify(res: R) -> str | None:
    """The named difference that keeps ``res`` from being sent, or None to send it."""
    if not res.type.startswith("kubernetes:"):
        return "not-kubernetes"
    if has_unknown(res.props):
        return "unknown-values"
    return None


def check(comparison: Comparison) -> None:
    """Equal on the held object; on the sent one, equal or different by a named normalization only."""
    OUTCOMES[comparison.status] += 1
    if comparison.status == "not-served":
        pytest.fail(f"{comparison.label}: the API server does not serve {comparison.obj['kind']} (CRDs?)")
    if comparison.status == "refused-by-the-api-server":
        assert comparison.cluster[""], comparison.explain()
        return
    assert comparison.equal_on_held, comparison.explain()
    if not comparison.equal_on_sent:
        assert comparison.normalizations, comparison.explain()
        assert comparison.normalizations <= DIFFERENCE_IDS, comparison.explain()
        OUTCOMES["differs-as-sent:" + ",".join(sorted(comparison.normalizations))] += 1


def _judge_prod(judge: Judge, label: str, res: R) -> Comparison:
    obj = to_object(res.type, res.props, name=res.name, namespace=JUDGED_NS)
    return compare(
        judge.api,
        label,
        obj,
        environment=judge.environment("prod"),
        config=judge.config("prod"),
        judged_ns=JUDGED_NS,
        raw_ns=RAW_NS,
        per_rule_ns=judge.per_rule_ns,
    )


TABLE = table_cases()


@pytest.mark.parametrize(("label", "res"), TABLE, ids=[label for label, _ in TABLE])
def test_rule_table_case(judge: Judge, label: str, res: R) -> None:
    reason = classify(res)
    if reason is not None:
        OUTCOMES[reason] += 1
        assert reason in DIFFERENCE_IDS
        return
    check(_judge_prod(judge, label, res))


CORPUS = mutation_corpus()


@pytest.mark.parametrize(("label", "res"), CORPUS, ids=[label for label, _ in CORPUS])
def test_mutation_corpus(judge: Judge, label: str, res: R) -> None:
    assert classify(res) is None
    check(_judge_prod(judge, label, res))


# --- bundled and broken environments ------------------------------------------------------------


def _environment_objects(env_file: Path) -> list[tuple[str, dict[str, Any], str]]:
    """``(label, object, tier)`` of every Kubernetes object the environment's program declares."""
    from mlops_platform.stacks.loader import load_environment
    from mlops_platform.tools.engine.audit import capture_environment

    project = Project.load(REPO)
    tier = str(load_environment(env_file, project=project.name).environment.tier)
    out = []
    for resource in capture_environment(env_file, project=project).resources:
        if not resource.type.startswith("kubernetes:") or not resource.custom:
            continue
        if resource.type.startswith(("kubernetes:yaml", "kubernetes:helm")) or ":providers:" in resource.type:
            continue
        inputs = without_secrets(resource.inputs)
        obj = to_object(resource.type, inputs, name=resource.name, namespace=None)
        out.append((f"{env_file.stem}:{resource.name}", obj, tier))
    return out


def _compare_env(judge: Judge, label: str, obj: dict[str, Any], tier: str) -> Comparison:
    from tests.admission.conftest import TIER_NAMESPACES

    namespace = TIER_NAMESPACES[tier][0]
    return compare(
        judge.api,
        label,
        obj,
        environment=judge.environment(tier),
        config=judge.config(tier),
        judged_ns=namespace,
        raw_ns=RAW_NS,
        per_rule_ns=judge.per_rule_ns if tier == "prod" else {},
    )


BUNDLED = [REPO / "stacks" / f"Pulumi.{env}.yaml" for env in ("dev", "staging", "prod")]


@pytest.mark.parametrize("env_file", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_bundled_environment(judge: Judge, env_file: Path) -> None:
    objects = _environment_objects(env_file)
    if not objects:
        from mlops_platform.stacks.loader import load_environment

        target = load_environment(env_file, project=Project.load(REPO).name).environment.target
        assert target != "kubernetes", env_file
        OUTCOMES["not-kubernetes"] += 1
        return
    for label, obj, tier in objects:
        assert not has_unknown(obj), label
        comparison = _compare_env(judge, label, obj, tier)
        check(comparison)
        assert comparison.status != "refused-by-the-api-server", comparison.explain()


def _broken_cases() -> list[str]:
    from tests.integration.test_broken_environments import CASES as BROKEN

    return sorted(BROKEN)


@pytest.mark.parametrize("case", _broken_cases())
def test_broken_environment(judge: Judge, tmp_path: Path, case: str) -> None:
    from tests.integration.test_broken_environments import CASES as BROKEN
    from tests.integration.test_broken_environments import PROD

    edit, _expected = BROKEN[case]
    config = copy.deepcopy(PROD)
    edit(config)
    env_file = tmp_path / "Pulumi.prod.yaml"
    env_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    failing = 0
    for label, obj, tier in _environment_objects(env_file):
        comparison = _compare_env(judge, f"{case}:{label}", obj, tier)
        check(comparison)
        failing += bool(comparison.cluster)
    OUTCOMES[f"broken:{case}:objects-failing"] += failing


@pytest.fixture(scope="module", autouse=True)
def outcomes_are_not_vacuous() -> Iterator[None]:
    """After this module's comparisons in this process: they judged objects both ways and found
    violations. Checked at the module's teardown, not by a last test: the full suite ran a
    ``test_zz`` before half of the comparisons (69 warned of 170), whatever the order it chose."""
    yield
    judged = OUTCOMES["admitted"] + OUTCOMES["warned"]
    if not judged:
        return
    print(dict(sorted(OUTCOMES.items())))
    assert OUTCOMES["warned"] > 0 and OUTCOMES["admitted"] > 0, OUTCOMES
    if judged >= 1_000:  # the whole module ran here: the figures of README
        assert OUTCOMES["warned"] >= 150 and OUTCOMES["admitted"] >= 50, OUTCOMES
