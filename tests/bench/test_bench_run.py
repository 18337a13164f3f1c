"""The bench runs: ``bench/run.py`` at 10 models, end to end, every field of its JSON line printed.

Not a timed test (the bench prints ratios; nothing here judges a figure): it keeps the bench from
breaking silently again, as it did when the report's keys moved under ``environments[]``. Checkov
stays in: the bench builds its virtualenv (``bench/.checkov-venv``, ``pip install checkov==3.3.30``)
on first use, so the first run takes a few minutes more; a missing Checkov is a failure, never a skip.
The real-engine audit is left out (``--engine`` with no size): it needs the toolchain, and the bench
prints its fields as explicitly absent (null).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bench")]

MEASURED = {
    "models",
    "resources",
    "rounds",
    "validate_s",
    "preview_s",
    "audit_s",
    "floor_s",
    "floor_host_s",
    "floor_gc_s",
    "checkov_s",
    "audit_over_floor",
    "audit_over_floor_host",
    "audit_over_floor_gc",
    "checkov_over_audit",
    "peak_mb",
    "preview_peak_mb",
    "checkov_peak_mb",
    "audit_checks",
    "audit_not_applicable",
    "checkov_checks",
    "k8s_objects",
    "load_avg_1m",
}
NOT_RUN = {"engine_audit_s", "engine_capped", "engine_over_audit", "same_findings"}  # no --engine size


def test_bench_runs_at_ten_models_and_prints_every_field(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--models", "10", "--repeat", "1", "--engine"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(line) == MEASURED | NOT_RUN, sorted(set(line) ^ (MEASURED | NOT_RUN))
    missing = sorted(key for key in MEASURED if line[key] is None)
    assert not missing, f"measured but printed as null: {missing}"
    assert {key: line[key] for key in NOT_RUN} == dict.fromkeys(NOT_RUN)
    assert line["models"] == 10
    assert line["resources"] > 0 and line["audit_checks"] > 0 and line["checkov_checks"] > 0, line
