"""Fixtures over the hand-built audits of :mod:`report_fixtures`."""

from __future__ import annotations

import pytest
from report_fixtures import make_dev, make_prod

from mlops_tools.findings import AuditResult


@pytest.fixture
def prod() -> AuditResult:
    return make_prod()


@pytest.fixture
def dev() -> AuditResult:
    return make_dev()
