"""The bench runs: ``bench/run.py`` at 10 models, end to end, every field of its JSON line printed.

Not a timed test (the bench prints ratios; nothing here judges a figure): it keeps the bench from
breaking silently again, as it did when the report's keys moved under ``environments[]``. Checkov
stays in: the bench builds its virtualenv (``bench/.checkov-venv``, ``pip install checkov==3.3.30``)
on first use, so the first run takes a few minutes more; a missing Checkov is a failure, never a skip.
The real-engine audit is left out (``--engine`` with no size): it needs the toolchain, and the bench
prints its fields as explicitly absent (null). The large ``validate`` runs at 200 models here.
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
    "report_json_bytes",
    "report_bytes",
    "report_full_json_bytes",
    "audit_full_evidence_s",
    "audit_full_evidence_peak_mb",
    "profile_s",
    "profile_top",
    "load_avg_1m",
}
VALIDATE = {
    "validate_models",
    "stack_file_bytes",
    "validate_s",
    "validate_exit",
    "validate_message",
    "validate_peak_mb",
    "load_avg_1m",
}
NOT_RUN = {"engine_audit_s", "engine_capped", "engine_over_audit", "same_findings"}  # no --engine size


def test_bench_runs_at_ten_models_and_prints_every_field(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            # two rounds: the second writes over the first's outputs (it once stopped the bench)
            *("--models", "10", "--repeat", "2", "--engine", "--validate-models", "200"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    *_, size_line, validate_line = done.stdout.strip().splitlines()
    line = json.loads(size_line)
    assert set(line) == MEASURED | NOT_RUN, sorted(set(line) ^ (MEASURED | NOT_RUN))
    missing = sorted(key for key in MEASURED if line[key] is None)
    assert not missing, f"measured but printed as null: {missing}"
    assert {key: line[key] for key in NOT_RUN} == dict.fromkeys(NOT_RUN)
    assert line["models"] == 10
    assert line["resources"] > 0 and line["audit_checks"] > 0 and line["checkov_checks"] > 0, line
    assert set(line["report_bytes"]) == {"text", "json", "sarif", "junit", "markdown", "html"}
    assert all(n > 0 for n in line["report_bytes"].values()), line["report_bytes"]
    assert {"function", "own_s", "cumulative_s", "calls"} <= set(line["profile_top"][0])
    large = json.loads(validate_line)
    assert set(large) == VALIDATE, sorted(set(large) ^ VALIDATE)
    assert (large["validate_models"], large["validate_exit"]) == (200, 0), large
