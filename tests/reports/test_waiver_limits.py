"""Waivers that stay honest: a tier's maximum duration, and a warning before one expires (issue 24)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mlops_platform.tools.findings import Enforcement
from mlops_platform.tools.reports import FORMATS, render
from mlops_platform.tools.waivers import WAIVER_EXPIRING, WAIVER_LIMITS, apply_waivers, over_limit
from tests.cli_runner import REPO, mlops
from tests.reports.report_fixtures import RUN_AS_NON_ROOT, make_prod, provenance, waiver

TODAY = date(2026, 6, 1)


def test_a_waiver_longer_than_the_tier_allows_is_refused_with_its_line() -> None:
    long = waiver(RUN_AS_NON_ROOT.name, "*", environment="prod", expires="2099-01-01", line=7)
    assert WAIVER_LIMITS["prod"].max_days == 90
    assert over_limit([long], "prod", "prod", TODAY) == [
        "policies/waivers.yaml:7: expires: 2099-01-01 is 26512 days after 2026-06-01; tier prod allows a "
        "waiver at most 90 days (environment prod)"
    ]
    within = waiver(RUN_AS_NON_ROOT.name, "*", environment="prod", expires="2026-08-30")
    assert over_limit([within], "prod", "prod", TODAY) == []
    assert over_limit([long], "dev", "dev", TODAY) == [], "a waiver for another environment is not judged"


def test_the_cli_refuses_the_waiver_file_and_writes_nothing(tmp_path: Path) -> None:
    bundled = (REPO / "policies" / "waivers.yaml").read_text(encoding="utf-8")
    assert "expires: 2027-06-30" in bundled
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(bundled.replace("expires: 2027-06-30", "expires: 2099-12-31", 1), encoding="utf-8")
    before = bundled[: bundled.index("expires: 2027-06-30")]
    line = before[: before.rindex("  - policy:")].count("\n") + 1  # a waiver is located at its entry
    out = tmp_path / "reports"
    result = mlops(
        "audit", "dev", "--today", "2026-12-01", "--waivers", str(waivers), "-f", "json", "-o", str(out)
    )
    assert result.returncode == 2, result.stderr
    assert (
        f"{waivers}:{line}: expires: 2099-12-31 is 26693 days after 2026-12-01; tier dev allows a waiver "
        "at most 365 days (environment dev)" in result.stderr
    )
    assert not out.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_waiver_expiring_soon_is_a_warning_in_every_format(fmt: str) -> None:
    soon = waiver(RUN_AS_NON_ROOT.name, "*", environment="prod", expires="2026-06-15", line=12)
    prod = make_prod()
    prod.tier = "prod"  # the fixture's tier is "production": limits are keyed by the bundled tiers
    result = apply_waivers(prod, [soon], TODAY)
    (warning,) = [f for f in result.findings if f.policy == WAIVER_EXPIRING]
    assert (warning.enforcement, warning.blocking) == (Enforcement.ADVISORY, False)
    assert warning.message == (
        f"policies/waivers.yaml:12: waiver of '{RUN_AS_NON_ROOT.name}' for '*' expires on 2026-06-15, in 14 "
        "day(s) (tier prod warns within 30); fix the violation or renew the waiver"
    )
    text = render([result], fmt, provenance=provenance(), generated_at="2026-06-01T10:00:00Z")
    assert "expires on 2026-06-15, in 14 day" in text  # Markdown escapes the parentheses
