"""A stack config too large for one environment variable: packs still start, with a clear warning."""

from __future__ import annotations

import json

import pytest

from mlops_platform.tools.engine.analyzer import (
    MAX_ENV_STRING_BYTES,
    config_fits_environment,
    make_resource,
    start_pack,
)
from tests.engine.conftest import TEST_PACK


def test_the_limit_is_the_whole_environment_string() -> None:
    room = MAX_ENV_STRING_BYTES - len("PULUMI_CONFIG=") - 1
    assert config_fits_environment("x" * room)
    assert not config_fits_environment("x" * (room + 1))
    assert not config_fits_environment("é" * (room // 2 + 1))  # bytes, not characters


def test_a_pack_starts_without_an_oversized_pulumi_config() -> None:
    config = {"mlops-platform:serving": json.dumps({"models": ["m" * 100] * 2000})}
    deployment = make_resource(
        "kubernetes:apps/v1:Deployment", "api", {"spec": {"replicas": 1}}, stack="fixture"
    )
    with (
        pytest.warns(RuntimeWarning, match=r"KiB as JSON, over the 128 KiB"),
        start_pack(TEST_PACK, stack="fixture", config=config) as pack,
    ):
        result = pack.analyze(deployment)
    assert "test-deployment-replicas" in {f.policy for f in result.findings}
