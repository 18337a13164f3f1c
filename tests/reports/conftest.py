"""Fixtures over the hand-built audits of :mod:`report_fixtures`."""

from __future__ import annotations

import pytest

from mlops_platform.tools.findings import AuditResult
from tests.reports.report_fixtures import make_dev, make_prod


@pytest.fixture
def prod() -> AuditResult:
    return make_prod()


@pytest.fixture
def dev() -> AuditResult:
    return make_dev()
