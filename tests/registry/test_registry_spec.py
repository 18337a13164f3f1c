"""registry_source and metric_thresholds: located one-line errors, and a credential never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_platform.stacks.loader import SpecError, load_environment
from tests.registry.envs import FRAUD_APPROVAL, REPO


def _prod_with(tmp_path: Path, source: str, threshold: str = '">= 0.92"') -> Path:
    text = (REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "    data_classification_ceiling: confidential\n",
        f"    data_classification_ceiling: confidential\n    registry_source:\n{source}",
        1,
    )
    text = text.replace(
        FRAUD_APPROVAL, f"{FRAUD_APPROVAL}          metric_thresholds: {{auc: {threshold}}}\n", 1
    )
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_environment(path)
    return [f"{p.line}: {p.path}: {p.message}" for p in info.value.problems]


def test_a_valid_registry_source_and_thresholds_load(tmp_path: Path) -> None:
    spec = load_environment(
        _prod_with(
            tmp_path, "      tracking_uri: https://mlflow.acme.example\n      token_secret: mlflowToken\n"
        )
    )
    source = spec.environment.registry_source
    assert source is not None and (source.tracking_uri, source.token_secret, source.timeout_s) == (
        "https://mlflow.acme.example",
        "mlflowToken",
        10.0,
    )
    assert spec.serving.models[0].governance.metric_thresholds == {"auc": ">= 0.92"}


def test_bad_registry_source_and_threshold_are_located(tmp_path: Path) -> None:
    path = _prod_with(
        tmp_path,
        "      tracking_uri: https://deploy:hunter2@mlflow.acme.example\n      timeout_s: 0\n",
        '"at least 0.9"',
    )
    problems = _problems(path)
    assert problems == [
        "16: environment.registry_source.tracking_uri: must be an http:// or https:// URL without "
        "user:password@ (credentials go in token_secret or username + password_secret)",
        "17: environment.registry_source.timeout_s: Input should be greater than 0 (got 0)",
        "42: serving.models[0].governance.metric_thresholds.auc: must be a comparison such as '>= 0.92' "
        "(one of >=, <=, ==, >, < and a number) (got 'at least 0.9')",
    ]
    assert "hunter2" not in "\n".join(problems)


def test_credentials_are_one_kind_and_complete(tmp_path: Path) -> None:
    both = (
        "      tracking_uri: https://m.example\n      token_secret: t\n      username: u\n"
        "      password_secret: p\n"
    )
    assert _problems(_prod_with(tmp_path, both)) == [
        "15: environment.registry_source: set token_secret or username with password_secret, not both"
    ]
    half = "      tracking_uri: https://m.example\n      username: u\n"
    assert _problems(_prod_with(tmp_path, half)) == [
        "15: environment.registry_source: username and password_secret go together"
    ]
