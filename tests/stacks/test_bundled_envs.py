"""The three bundled environments: valid, built on the tier defaults, with nothing copied between them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from mlops_platform.stacks.loader import PROJECT, load_environment, spec_from_pulumi_config
from mlops_platform.stacks.schema import SECTIONS, EnvironmentSpec
from mlops_platform.stacks.yaml_source import SourceError
from tests.stacks.stack_fixtures import ENVS, REPO, STACKS

DEFAULTS: dict[str, Any] = yaml.safe_load((STACKS / "defaults.yaml").read_text(encoding="utf-8"))
# Who owns and pays for an environment is the same people everywhere, yet no tier default: a new
# environment must name them on purpose.
OWNERSHIP_PATHS = {
    ("environment", "owner"),
    ("environment", "team"),
    ("environment", "cost_centre"),
}
ANY_MODEL = "*"  # path part standing for every serving.models[] entry


def env_sections(env: str) -> dict[str, Any]:
    """The ``mlops-platform:<section>`` values of a stack file, keyed by section."""
    config = yaml.safe_load((STACKS / f"Pulumi.{env}.yaml").read_text(encoding="utf-8"))["config"]
    prefix = f"{PROJECT}:"
    return {k.removeprefix(prefix): v for k, v in config.items() if k.removeprefix(prefix) in SECTIONS}


def leaves(data: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) of every non-mapping value; models are folded under ``ANY_MODEL``."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, (*path, key))
    elif path == ("serving", "models") and isinstance(data, list):
        for model in data:
            yield from leaves(model, (*path, ANY_MODEL))
    else:
        yield path, data


def tier_defaults(tier: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(section defaults, per-model defaults) for ``tier``, layered as the loader documents."""
    sections: dict[str, Any] = {}
    model: dict[str, Any] = {}
    for layer in (DEFAULTS["common"], DEFAULTS.get(tier, {})):
        layer = dict(layer)
        model = merge(model, layer.pop("model", {}))
        sections = merge(sections, layer)
    return sections, model


def merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        return {**base, **{k: merge(base[k], v) if k in base else v for k, v in override.items()}}
    return override


def lookup(data: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    """(found, value) at ``path``; not found when a key on the way is missing."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False, None
        data = data[key]
    return True, data


def covers(actual: Any, expected: Any) -> bool:
    """``actual`` holds ``expected``: mappings may carry extra keys (schema defaults), lists align."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and covers(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(covers(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return actual == expected


@pytest.fixture(scope="module")
def specs() -> dict[str, EnvironmentSpec]:
    return {env: load_environment(env) for env in ENVS}


@pytest.mark.parametrize("env", ENVS)
def test_bundled_environment_validates(env: str, specs: dict[str, EnvironmentSpec]) -> None:
    spec = specs[env]
    assert spec.environment.name == env
    assert spec.environment.tier == env  # one environment per tier, named after it
    assert spec.serving.models, f"{env} serves no model"
    assert spec.environment.target == ("docker" if env == "dev" else "kubernetes")


def test_named_tier_defaults_apply(specs: dict[str, EnvironmentSpec]) -> None:
    prod_models = {m.name: m for m in specs["prod"].serving.models}
    # churn-predictor states no replicas: the prod tier's model default (min 3, max 10) applies.
    assert (prod_models["churn-predictor"].replicas.min, prod_models["churn-predictor"].replicas.max) == (
        3,
        10,
    )
    assert prod_models["churn-predictor"].resources.requests.cpu_millicores == 500
    # fraud-scorer states its own replicas; recommender its own resources.
    assert (prod_models["fraud-scorer"].replicas.min, prod_models["fraud-scorer"].replicas.max) == (3, 12)
    assert prod_models["recommender"].resources.limits.memory_mib == 4096
    assert specs["dev"].storage.database.backup.retention_days == 1
    assert specs["staging"].storage.database.backup.retention_days == 7  # common default
    assert specs["prod"].storage.database.backup.retention_days == 35
    assert specs["dev"].monitoring.retention_days == 3
    assert [m.replicas.min for m in specs["staging"].serving.models] == [2, 2]
    assert [b.name for b in specs["prod"].storage.object_store.buckets] == ["mlflow-artifacts", "datasets"]


@pytest.mark.parametrize("env", ENVS)
def test_every_default_not_overridden_reaches_the_spec(env: str, specs: dict[str, EnvironmentSpec]) -> None:
    """Each leaf of the tier's defaults that the env file leaves alone is the spec's value."""
    sections, model_defaults = tier_defaults(env)
    stated = env_sections(env)
    dumped = specs[env].model_dump(mode="json")
    checked = 0
    for path, default in leaves(sections):
        if not lookup(stated, path)[0]:
            assert covers(lookup(dumped, path)[1], default), f"{env}: {'.'.join(path)} is not the default"
            checked += 1
    for index, model in enumerate(stated["serving"]["models"]):
        for path, default in leaves(model_defaults):
            if not lookup(model, path)[0]:
                actual = lookup(dumped["serving"]["models"][index], path)[1]
                assert covers(actual, default), f"{env}: serving.models[{index}].{'.'.join(path)}"
                checked += 1
    assert checked > 20  # the check really walked the defaults


def repeated_in_all(files: list[dict[str, Any]]) -> list[str]:
    """Leaves every file states with the same value (ownership exempt), as ``path = value``.

    Sections are compared leaf by leaf; a model key counts as repeated when every model of every
    file states the same value: that is what a ``model`` default could hold.
    """
    per_file = []
    for sections in files:
        found: dict[tuple[str, ...], list[str]] = {}
        for path, value in leaves(sections):
            found.setdefault(path, []).append(json.dumps(value, sort_keys=True))
        per_file.append((found, len(lookup(sections, ("serving", "models"))[1] or [])))
    repeated = []
    for path in per_file[0][0]:
        if path in OWNERSHIP_PATHS or any(path not in found for found, _ in per_file):
            continue
        values = [v for found, _ in per_file for v in found[path]]
        every_model = ANY_MODEL not in path or all(len(found[path]) == n for found, n in per_file)
        if len(set(values)) == 1 and every_model:
            repeated.append(f"{'.'.join(path)} = {values[0]}")
    return repeated


def test_nothing_is_repeated_in_all_three_env_files() -> None:
    """A value every environment file states alike belongs in stacks/defaults.yaml."""
    assert repeated_in_all([env_sections(env) for env in ENVS]) == []


def test_repetition_check_catches_a_copied_value() -> None:
    """The check is not vacuous: copy a value into all three files and it is found."""
    files = [env_sections(env) for env in ENVS]
    for sections in files:
        sections["storage"] = {**sections.get("storage", {}), "storage_class": "fast-ssd"}
        for model in sections["serving"]["models"]:
            model["port"] = 9000
    assert sorted(repeated_in_all(files)) == [
        "serving.models.*.port = 9000",
        'storage.storage_class = "fast-ssd"',
    ]
    files[0]["serving"]["models"][0]["port"] = 9001  # one model differs: no longer a default
    assert repeated_in_all(files) == ['storage.storage_class = "fast-ssd"']


def restated(stated: Any, defaults: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Paths in ``stated`` whose value is what ``defaults`` already gives.

    A scalar restated inside a group of scalars that differs as a whole (``replicas: {min: 3,
    max: 12}`` over a default min of 3) reads as one value and is tolerated; a whole group, a
    list or a lone scalar equal to its default is not.
    """
    if not isinstance(stated, dict):
        return
    group_differs = all(not isinstance(v, dict | list) for v in stated.values()) and any(
        lookup(defaults, (k,)) != (True, v) for k, v in stated.items()
    )
    for key, value in stated.items():
        if lookup(defaults, (key,)) == (True, value) and not group_differs:
            yield ".".join((*path, key))
        elif isinstance(value, dict) and isinstance(defaults, dict):
            yield from restated(value, defaults.get(key), (*path, key))


@pytest.mark.parametrize("env", ENVS)
def test_env_files_do_not_restate_their_tier_defaults(env: str) -> None:
    """An environment file states only what differs from its tier's defaults."""
    sections, model_defaults = tier_defaults(env)
    stated = env_sections(env)
    found = [p for p in restated(stated, sections) if not p.startswith("serving.models")]
    for model in stated["serving"]["models"]:
        found += [f"serving.models[{model['name']}].{p}" for p in restated(model, model_defaults)]
    assert found == []


def test_restatement_check_catches_a_restated_default() -> None:
    sections, model_defaults = tier_defaults("prod")
    stated = {"monitoring": {"retention_days": 30, "receivers": []}, "storage": {"volumes": []}}
    assert list(restated(stated, sections)) == ["monitoring.retention_days", "storage.volumes"]
    model = {
        "name": "m",
        "replicas": {"min": 3, "max": 12},
        "slo": {"p99_latency_ms": 300, "error_rate": 0.01},
    }
    # replicas differs as a whole (min restated beside it is tolerated); slo is the default.
    assert list(restated(model, model_defaults)) == ["slo"]
    model["replicas"] = {"min": 3}
    assert list(restated(model, model_defaults)) == ["replicas.min", "slo"]


@pytest.mark.parametrize("env", ENVS)
def test_pulumi_config_sections_give_the_same_spec(env: str, specs: dict[str, EnvironmentSpec]) -> None:
    """The engine hands the program every section as a JSON string: the spec must not change."""
    stated = env_sections(env)
    as_pulumi_passes = {f"mlops-platform:{s}": json.dumps(stated[s]) for s in SECTIONS if s in stated}
    assert spec_from_pulumi_config(as_pulumi_passes, set(), env) == specs[env]


def test_pulumi_config_problems_are_located_in_the_stack_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    sections = {s: json.loads(json.dumps(v)) for s, v in env_sections("prod").items()}
    sections["serving"]["models"][0]["replicas"] = {"min": 13, "max": 12}
    values = {f"mlops-platform:{s}": json.dumps(v) for s, v in sections.items()}
    with pytest.raises(SourceError) as caught:
        spec_from_pulumi_config(values, set(), "prod")
    text = (STACKS / "Pulumi.prod.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text, 1) if "replicas: {min: 3, max: 12}" in t)
    assert [str(p) for p in caught.value.problems] == [
        f"stacks/Pulumi.prod.yaml:{line}: serving.models[0].replicas.min: must be <= max (13 > 12)"
    ]
