"""The editor schema of the stack file as written (``mlops schema --stack-file``), checked with jsonschema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlops_platform.stacks.json_schema import STACK_FILE_SCHEMA, render_stack_file_schema
from tests.stacks.stack_fixtures import ENVS, MINIMAL_STACK, STACKS, run_cli

MODELINE = "# yaml-language-server: $schema="


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    result = run_cli("schema", "--stack-file")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, document: Any) -> list[str]:
    return sorted(
        "/".join(map(str, e.absolute_path)) + ": " + e.message for e in validator.iter_errors(document)
    )


def bundled(env: str) -> dict[str, Any]:
    return yaml.safe_load((STACKS / f"Pulumi.{env}.yaml").read_text(encoding="utf-8"))


def test_the_committed_schema_is_the_generated_one() -> None:
    assert STACK_FILE_SCHEMA.read_text(encoding="utf-8") == render_stack_file_schema(), (
        "stale: run `mlops schema --stack-file -o stacks/stack-file.schema.json`"
    )


@pytest.mark.parametrize("env", ENVS)
def test_each_bundled_file_names_the_schema_and_validates(
    env: str, validator: jsonschema.Draft202012Validator
) -> None:
    path = STACKS / f"Pulumi.{env}.yaml"
    modelines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith(MODELINE)]
    assert len(modelines) == 1
    assert (path.parent / modelines[0].removeprefix(MODELINE)).resolve() == STACK_FILE_SCHEMA
    assert errors(validator, bundled(env)) == []


def test_the_minimal_file_validates_and_tier_defaults_are_optional(
    validator: jsonschema.Draft202012Validator,
) -> None:
    """The minimal file states no registry, no database, no model replicas: defaults supply them."""
    assert errors(validator, yaml.safe_load(MINIMAL_STACK)) == []


def test_a_typo_and_a_missing_required_key_fail(validator: jsonschema.Draft202012Validator) -> None:
    prod = bundled("prod")
    typo = copy.deepcopy(prod)
    typo["config"]["mlops-platform:serving"]["models"][0]["replicaz"] = {"min": 3}
    assert errors(validator, typo) == [
        "config/mlops-platform:serving/models/0: "
        "Additional properties are not allowed ('replicaz' was unexpected)"
    ]
    missing = copy.deepcopy(prod)
    del missing["config"]["mlops-platform:serving"]["models"][0]["image"]  # no default for it
    assert errors(validator, missing) == [
        "config/mlops-platform:serving/models/0: 'image' is a required property"
    ]
    section = copy.deepcopy(prod)
    section["config"]["mlops-platform:servng"] = section["config"].pop("mlops-platform:serving")
    found = errors(validator, section)  # servng is only allowed as a secret; serving is missing
    assert "config/mlops-platform:servng: 'secure' is a required property" in found
    assert any(e.startswith("config: ") and "is not valid under any of the given schemas" in e for e in found)
    assert errors(validator, {"confg": {}}) != []


def test_namespaces_as_pulumi_reads_them(validator: jsonschema.Draft202012Validator) -> None:
    staging = bundled("staging")
    bare = copy.deepcopy(staging)
    bare["config"]["serving"] = bare["config"].pop("mlops-platform:serving")
    bare["config"]["kubernetes:context"] = "kind-staging"
    bare["config"]["pagerWebhook"] = {"secure": "v1:abc"}
    assert errors(validator, bare) == []
    both = copy.deepcopy(bare)
    both["config"]["mlops-platform:serving"] = staging["config"]["mlops-platform:serving"]
    assert len(errors(validator, both)) == 1
    plaintext = copy.deepcopy(staging)
    plaintext["config"]["mlops-platform:credentialSeed"] = "hunter2"
    assert errors(validator, plaintext) == [
        "config/mlops-platform:credentialSeed: 'hunter2' is not of type 'object'"
    ]


def test_the_schema_is_written_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "stack.schema.json"
    assert run_cli("schema", "--stack-file", "-o", str(target)).returncode == 0
    assert target.read_text(encoding="utf-8") == render_stack_file_schema()
