"""Wall time of the foundation's commands: median of 5 subprocess runs each (not a test).

Usage: .venv/bin/python bench/validate_speed.py [--runs 5]

Measures ``mlops --help``, ``mlops validate prod`` and ``mlops validate <1,000-model prod spec>``
with the installed console script, from the repository root, as a user runs them.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
MLOPS = Path(sys.executable).parent / "mlops"


def thousand_model_spec() -> dict[str, Any]:
    """The prod stack file with 1,000 models, each a renamed copy of a bundled one."""
    stack = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    models = stack["config"]["mlops-platform:serving"]["models"]
    stack["config"]["mlops-platform:serving"]["models"] = [
        {**copy.deepcopy(models[i % len(models)]), "name": f"{models[i % len(models)]['name']}-{i:04d}"}
        for i in range(1000)
    ]
    return stack


def median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {result.returncode}:\n{result.stderr}")
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "Pulumi.thousand.yaml"
        big.write_text(yaml.safe_dump(thousand_model_spec(), sort_keys=False), encoding="utf-8")
        commands = {
            "mlops --help": [str(MLOPS), "--help"],
            "mlops validate prod": [str(MLOPS), "validate", "prod"],
            "mlops validate <1,000 models>": [str(MLOPS), "validate", str(big)],
        }
        print(f"median of {runs} runs (subprocess wall time)")
        for label, argv in commands.items():
            print(f"  {label:32} {median_seconds(argv, runs):6.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
