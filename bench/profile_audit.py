"""Profile one ``mlops`` command in this process with cProfile (not a test).

Usage: .venv/bin/python bench/profile_audit.py [--top N] [--stats FILE] -- <mlops arguments>

Runs the CLI app as the ``mlops`` console script runs it (``standalone_mode=False``), under
:mod:`cProfile`, then prints one JSON line: ``{"exit": code, "seconds": s, "top": [...]}``, the
``N`` functions with the most own time (``tottime``), each ``{"function", "own_s", "cumulative_s",
"calls"}``. Only this process is profiled: the policy packs and the relay run in their own processes
(the capture's process is the audit's critical path). cProfile slows the profiled process down, so
its seconds are not the timed run's; the bench times the command separately.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any


def top_functions(stats: pstats.Stats, count: int) -> list[dict[str, Any]]:
    """The ``count`` functions with the most own time, from cProfile's statistics."""
    rows = []
    # pstats' table: (file, line, name) -> (primitive calls, calls, tottime, cumtime, callers)
    table = stats.stats  # type: ignore[attr-defined]
    for (file, line, name), (_primitive, calls, own, cumulative, _callers) in table.items():
        where = f"{Path(file).name}:{line}:{name}" if line else name
        rows.append(
            {"function": where, "own_s": round(own, 3), "cumulative_s": round(cumulative, 3), "calls": calls}
        )
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    return rows[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=12, help="How many functions to list.")
    parser.add_argument("--stats", type=Path, help="Also write cProfile's statistics to this file.")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="The mlops arguments, after --.")
    args = parser.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command

    from mlops_platform.tools.cli import app, global_options_first
    from mlops_platform.tools.cli_guard import run_guarded

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    command = global_options_first(argv)
    code = run_guarded(lambda: app(args=command, standalone_mode=False), debug=lambda: True)
    profiler.disable()
    seconds = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    if args.stats is not None:
        stats.dump_stats(args.stats)
    line = {"exit": code, "seconds": round(seconds, 2), "top": top_functions(stats, args.top)}
    sys.stderr.flush()
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    os._exit(code)  # as the console script ends: the program's heap is not freed object by object


if __name__ == "__main__":
    raise SystemExit(main())
