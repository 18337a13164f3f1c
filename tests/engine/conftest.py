"""Shared fixtures for the engine tests: one capture of the fixture program, one started test pack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_platform.tools.engine.analyzer import PackSession, start_pack
from mlops_platform.tools.engine.capture import Capture, capture_program
from mlops_platform.tools.engine.config import StackConfig, load_stack_config

FIXTURES = Path(__file__).parent / "fixtures"
PROGRAM = FIXTURES / "program" / "__main__.py"
STACK_FILE = FIXTURES / "Pulumi.fixture.yaml"
TEST_PACK = FIXTURES / "packs" / "testpack"
STACK = "urn:pulumi:fixture::mlops-platform::"


@pytest.fixture(scope="session")
def stack_config() -> StackConfig:
    return load_stack_config(STACK_FILE)


@pytest.fixture(scope="session")
def capture(stack_config: StackConfig) -> Capture:
    return capture_program(PROGRAM, stack_config)


@pytest.fixture(scope="module")
def pack() -> Iterator[PackSession]:
    with start_pack(TEST_PACK, stack="fixture") as session:
        yield session
