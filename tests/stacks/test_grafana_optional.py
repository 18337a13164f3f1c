"""``monitoring.grafana_image: null``: an environment without a Grafana of its own, as the spec reads it.

The tier defaults keep an image, so only an environment that says ``null`` loses its Grafana; the
stack-file schema (editors) accepts the same ``null``; a value that is neither an image nor ``null`` is
still refused where it is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlops_platform.stacks.json_schema import STACK_FILE_SCHEMA
from mlops_platform.stacks.loader import load_environment
from mlops_platform.stacks.yaml_source import SourceError
from tests.stacks.stack_fixtures import ENVS, MINIMAL_STACK, MONITORING_SECTION, mutate, without_grafana

DEFAULT_GRAFANA = "docker.io/grafana/grafana:11.2.0"
PROD_GRAFANA = f"{DEFAULT_GRAFANA}@sha256:408afb9726de5122b00a2576763a8a57a3c86d5b0eff5305bc994ceb3eb96c3f"


@pytest.mark.parametrize("env", ENVS)
def test_null_removes_grafana_and_nothing_else(env: str, tmp_path: Path) -> None:
    bundled = load_environment(env)
    assert bundled.monitoring.grafana_image == (PROD_GRAFANA if env == "prod" else DEFAULT_GRAFANA)
    spec = load_environment(without_grafana(env, tmp_path))
    assert spec.monitoring.grafana_image is None
    restored = spec.monitoring.model_copy(update={"grafana_image": bundled.monitoring.grafana_image})
    assert spec.model_copy(update={"monitoring": restored}) == bundled


def test_the_stack_file_schema_accepts_null_and_still_refuses_a_non_image(tmp_path: Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(STACK_FILE_SCHEMA.read_text(encoding="utf-8")))
    document = yaml.safe_load(without_grafana("staging", tmp_path).read_text(encoding="utf-8"))
    assert list(validator.iter_errors(document)) == []
    document["config"]["mlops-platform:monitoring"]["grafana_image"] = 3000
    (error,) = validator.iter_errors(document)
    assert list(error.absolute_path) == ["config", "mlops-platform:monitoring", "grafana_image"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3000", "monitoring.grafana_image: Input should be a valid string (got 3000)"),
        (
            "grafana",
            "monitoring.grafana_image: must be an image reference with a registry: registry/path:tag or "
            "@sha256:<digest> (got 'grafana')",
        ),
    ],
)
def test_a_value_neither_an_image_nor_null_is_refused_where_it_is_written(
    value: str, message: str, tmp_path: Path
) -> None:
    text = mutate(MONITORING_SECTION, f"{MONITORING_SECTION}    grafana_image: {value}\n", MINIMAL_STACK)
    stack = tmp_path / "Pulumi.test.yaml"
    stack.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_environment(str(stack))
    (problem,) = [str(p) for p in caught.value.problems]
    line = text.splitlines().index(f"    grafana_image: {value}") + 1
    assert problem == f"{stack}:{line}: {message}"
