"""Stack config as the CLI passes it: objects as JSON strings, secure values as secret placeholders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_platform.stacks.credentials_config import CREDENTIAL_SEED_KEY, credential_seed_placeholder
from mlops_platform.tools.engine.config import StackConfigError, load_stack_config, secret_placeholder

SEED = f"mlops-platform:{CREDENTIAL_SEED_KEY}"


def test_structured_and_scalar_values_are_spelled_as_the_cli_passes_them(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.qa.yaml"
    stack_file.write_text(
        "config:\n"
        "  mlops-platform:spec: {b: 1, a: [true, null]}\n"
        "  mlops-platform:flag: true\n"
        "  mlops-platform:count: 3\n"
        "  plain: text\n"
        "  kubernetes:context: kind\n"
    )
    config = load_stack_config(stack_file)
    assert config.environment == "qa"
    assert config.values == {
        "mlops-platform:spec": '{"a":[true,null],"b":1}',
        "mlops-platform:flag": "true",
        "mlops-platform:count": "3",
        "mlops-platform:plain": "text",
        "kubernetes:context": "kind",
        SEED: credential_seed_placeholder("qa"),  # no seed in the file: the stand-in, secret
    }
    assert config.object("spec") == {"a": [True, None], "b": 1}
    assert config.namespace("kubernetes") == {"context": "kind"}
    assert config.secret_keys == {SEED}


def test_secure_values_become_deterministic_placeholders_marked_secret(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.qa.yaml"
    stack_file.write_text(
        "config:\n"
        "  mlops-platform:token:\n    secure: v1:abc\n"
        "  mlops-platform:db: {user: app, password: {secure: v1:def}}\n"
    )
    config = load_stack_config(stack_file)
    assert config.values["mlops-platform:token"] == secret_placeholder("mlops-platform:token", "v1:abc")
    assert config.values["mlops-platform:token"].startswith("mock-secret-")
    nested = json.loads(config.values["mlops-platform:db"])
    assert nested == {"password": secret_placeholder("mlops-platform:db.password", "v1:def"), "user": "app"}
    assert config.secret_keys == {"mlops-platform:token", "mlops-platform:db", SEED}
    assert config.secret_values == {
        config.values["mlops-platform:token"],
        nested["password"],
        credential_seed_placeholder("qa"),
    }
    assert load_stack_config(stack_file) == config


def test_a_missing_credential_seed_gets_the_shared_placeholder_as_a_secret(tmp_path: Path) -> None:
    configs = {}
    for env in ("qa", "prod"):
        stack_file = tmp_path / f"Pulumi.{env}.yaml"
        stack_file.write_text("config:\n  mlops-platform:environment: {name: x}\n")
        configs[env] = load_stack_config(stack_file)
    for env, config in configs.items():
        seed = config.values[SEED]
        assert seed == credential_seed_placeholder(env) and seed.startswith("mock-secret-")
        assert SEED in config.secret_keys and seed in config.secret_values
    assert configs["qa"].values[SEED] != configs["prod"].values[SEED]


def test_a_seed_in_the_file_is_used_as_any_secure_value(tmp_path: Path) -> None:
    stack_file = tmp_path / "Pulumi.qa.yaml"
    stack_file.write_text(f"config:\n  {SEED}:\n    secure: v1:seed\n")
    config = load_stack_config(stack_file)
    assert config.values[SEED] == secret_placeholder(SEED, "v1:seed")
    assert config.secret_values == {config.values[SEED]}
    assert credential_seed_placeholder("qa") not in config.values.values()


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("Pulumi.qa.yaml", "config: [1, 2]\n", "`config` must be a mapping"),
        ("Pulumi.qa.yaml", "config: {a: [}\n", "YAML syntax error"),
        ("stack.yaml", "config: {}\n", "not a stack file"),
    ],
)
def test_bad_stack_files_are_rejected_with_the_file_named(
    tmp_path: Path, name: str, text: str, error: str
) -> None:
    stack_file = tmp_path / name
    stack_file.write_text(text)
    with pytest.raises(StackConfigError, match=error) as info:
        load_stack_config(stack_file)
    assert str(stack_file) in str(info.value)
