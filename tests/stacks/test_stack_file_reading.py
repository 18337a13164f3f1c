"""The stack file read as Pulumi reads it, by the function the CLI, the offline engine and the program share.

Un-namespaced keys are the project's, ``ns:config:key`` is the old spelling of ``ns:key``, other
namespaces are their providers', one key in both forms is an error, and the stack name must equal
``environment.name``. (The real engine's reading of the same files: tests/realengine.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.stacks.consistency import check_environment
from mlops_platform.stacks.loader import full_key, load_environment, read_stack_file, spec_from_stack_config
from mlops_platform.stacks.yaml_source import SourceError, display_path
from mlops_platform.tools.engine.config import load_stack_config
from tests.stacks.stack_fixtures import MINIMAL_STACK, REPO, STACKS, mutate


def write(tmp_path: Path, text: str, name: str = "test") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(SourceError) as caught:
        load_environment(path)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("serving", "mlops-platform:serving"),
        ("mlops-platform:serving", "mlops-platform:serving"),
        ("mlops-platform:config:serving", "mlops-platform:serving"),
        ("kubernetes:context", "kubernetes:context"),
        ("aws:config:region", "aws:region"),
    ],
)
def test_keys_are_namespaced_as_pulumi_reads_them(written: str, read: str) -> None:
    assert full_key(written) == read


SECOND_MODEL = """\
      - name: second
        image: ghcr.io/acme/second:2.0.0
        model: {name: second, version: 1}
        governance: {owner: o@acme.example, risk_tier: minimal, data_classification: internal}
"""


def test_an_unnamespaced_section_is_the_projects(tmp_path: Path) -> None:
    """The issue's case: a `serving:` without the prefix is what the program deploys, so it is validated."""
    text = mutate("  mlops-platform:serving:\n", "  serving:\n")
    text = mutate("scorer:1.0.0\n", "scorer:latest\n", text)
    text = mutate("  mlops-platform:monitoring:\n", SECOND_MODEL + "  mlops-platform:monitoring:\n", text)
    path = write(tmp_path, text)
    spec = load_environment(path)
    assert [m.name for m in spec.serving.models] == ["scorer", "second"]
    assert spec.serving.models[0].image.endswith(":latest")
    assert load_stack_config(path).object("serving")["models"][1]["name"] == "second"  # the offline engine


def test_a_key_in_both_forms_is_a_located_error(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_STACK + "  serving:\n    models: []\n")
    lines = MINIMAL_STACK.splitlines()
    namespaced = lines.index("  mlops-platform:serving:") + 1
    assert problems(path) == [
        f"{display_path(path)}:{len(lines) + 1}: serving: sets mlops-platform:serving again "
        f"(as 'mlops-platform:serving' on line {namespaced}); a key without a namespace is in the "
        "project's (mlops-platform:): keep one of the two"
    ]
    with pytest.raises(Exception, match="sets mlops-platform:serving again"):
        load_stack_config(path)  # the offline engine refuses it too


def test_provider_keys_pass_through_and_unknown_project_keys_are_located(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL_STACK + "  kubernetes:context: kind-x\n  aws:region: eu-west-1\n")
    assert load_environment(path).environment.name == "test"
    assert load_stack_config(path).namespace("kubernetes") == {"context": "kind-x"}
    path = write(tmp_path, MINIMAL_STACK + "  servng:\n    models: []\n")
    (problem,) = problems(path)
    assert problem.startswith(
        f"{display_path(path)}:{len(MINIMAL_STACK.splitlines()) + 1}: servng: unknown key"
    )
    assert read_stack_file(path).values["mlops-platform:servng"] == {"models": []}


def test_the_stack_name_must_equal_environment_name(tmp_path: Path) -> None:
    """A prod spec saved as Pulumi.dev.yaml is refused: it would be the dev stack, labelled prod."""
    prod = (STACKS / "Pulumi.prod.yaml").read_text(encoding="utf-8")
    path = write(tmp_path, prod, name="dev")
    line = next(i for i, t in enumerate(prod.splitlines(), 1) if t.strip() == "name: prod")
    (problem,) = problems(path)
    assert problem.startswith(
        f"{display_path(path)}:{line}: environment.name: must equal the stack name 'dev' (got 'prod')"
    )


def test_the_program_reading_refuses_the_same_mismatch() -> None:
    """``spec_from_stack_config`` is what the program calls with the config the engine passed it."""
    config = load_stack_config(STACKS / "Pulumi.prod.yaml")
    values, secret = config.values, config.secret_keys
    assert spec_from_stack_config(values, secret, "prod").environment.name == "prod"
    with pytest.raises(SourceError, match="must equal the stack name 'dev'") as caught:
        spec_from_stack_config(values, secret, "dev")
    assert len(caught.value.problems) == 1


def test_a_copied_environment_sharing_a_namespace_is_an_error(tmp_path: Path) -> None:
    for env in ("dev", "staging", "prod"):
        (tmp_path / f"Pulumi.{env}.yaml").write_text((STACKS / f"Pulumi.{env}.yaml").read_text())
    copied = (STACKS / "Pulumi.staging.yaml").read_text().replace("name: staging", "name: predmaint")
    path = write(tmp_path, copied, name="predmaint")
    result = check_environment(path, load_environment(path))
    line = next(i for i, t in enumerate(copied.splitlines(), 1) if "namespace: mlops-staging" in t)
    assert [(p.line, p.path) for p in result.errors] == [(line, "environment.namespace")]
    assert "also environment 'staging''s" in result.errors[0].message
    # Another cluster named in the stack file: no shared objects, but the namespace still names staging.
    path.write_text(copied + "  kubernetes:context: kind-predmaint\n")
    result = check_environment(path, load_environment(path))
    assert result.errors == []
    assert [p.message for p in result.warnings] == [
        "namespace 'mlops-staging' names environment 'staging', not 'predmaint': a copied stack file that "
        "kept its origin's namespace?"
    ]


def test_a_tier_named_environment_of_another_tier_is_a_warning(tmp_path: Path) -> None:
    text = (STACKS / "Pulumi.staging.yaml").read_text().replace("name: staging", "name: prod")
    text = text.replace("namespace: mlops-staging", "namespace: mlops-prod")
    path = write(tmp_path, text, name="prod")
    result = check_environment(path, load_environment(path))
    assert result.errors == []
    assert [p.path for p in result.warnings] == ["environment.tier"]
    assert "environment 'prod' has tier 'staging'" in result.warnings[0].message


def test_the_bundled_environments_are_consistent() -> None:
    for env in ("dev", "staging", "prod"):
        path = REPO / "stacks" / f"Pulumi.{env}.yaml"
        result = check_environment(path, load_environment(path))
        assert (result.errors, result.warnings) == ([], []), env
