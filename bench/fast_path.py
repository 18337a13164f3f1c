"""What the packs' shared-analysis fast path saves over pulumi-policy's own servicer (not a test).

The fast path (``mlops_platform.policies.sdk_adapter``) subclasses pulumi-policy's private
``_PolicyAnalyzerServicer``; this measures whether that is worth it. Each pack's servicer, the SDK's
and the fast path's, answers the same ``Analyze`` requests (every captured resource) and one
``AnalyzeStack``, in this process, with ``PULUMI_CONFIG`` set as the engine sets it for a pack (the
stack's config, which holds the whole spec). The two alternate for ``--rounds`` rounds; the fastest
round of each counts. Answers must be byte-identical. Prints one JSON line: per pack and in total,
the seconds of each and the ratio SDK / fast path.

    .venv/bin/python bench/fast_path.py --models 100 --rounds 3
    .venv/bin/python bench/fast_path.py --env-file stacks/Pulumi.prod.yaml
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy import policy as sdk
from run import write_stack  # bench/run.py: a script's own directory is first on sys.path

from mlops_platform.policies.catalogue import PACKS
from mlops_platform.policies.packs import pack_arguments
from mlops_platform.policies.sdk_adapter import shared_analysis_servicer
from mlops_platform.tools.engine.analyzer import (
    _captured_stack_resource,
    captured_request,
    config_fits_environment,
)
from mlops_platform.tools.engine.audit import capture_environment
from mlops_platform.tools.engine.config import PROJECT, load_stack_config


def _servicer(cls: type, pack: str) -> Any:
    return cls(pack, "1.0.0", list(pack_arguments(pack)["policies"]), EnforcementLevel.MANDATORY, None)


def _run(servicer: Any, requests: list[Any], stack: Any) -> tuple[float, list[bytes]]:
    gc.collect()
    start = time.perf_counter()
    answers = [servicer.Analyze(r, None).SerializeToString(deterministic=True) for r in requests]
    answers.append(servicer.AnalyzeStack(stack, None).SerializeToString(deterministic=True))
    return time.perf_counter() - start, answers


def _engine_env(env_file: Path) -> bool:
    """Set what the engine gives a pack process; False when PULUMI_CONFIG cannot be passed (too big)."""
    config = load_stack_config(env_file, project=PROJECT).values
    encoded = json.dumps(config, sort_keys=True)
    os.environ.update({"PULUMI_PROJECT": PROJECT, "PULUMI_STACK": "prod", "PULUMI_DRY_RUN": "true"})
    if not config_fits_environment(encoded):
        os.environ.pop("PULUMI_CONFIG", None)
        return False
    os.environ["PULUMI_CONFIG"] = encoded
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", type=int, default=100, help="Models of a generated prod stack.")
    parser.add_argument("--env-file", type=Path, help="Measure this stack file instead.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds; the fastest counts.")
    parser.add_argument(
        "--no-config", action="store_true", help="Without PULUMI_CONFIG: the per-policy conversion alone."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-fast-path-") as scratch:
        env_file = args.env_file or write_stack(Path(scratch), args.models)
        capture = capture_environment(env_file)
        with_config = _engine_env(env_file)
        if args.no_config:
            os.environ.pop("PULUMI_CONFIG", None)
            with_config = False
    requests = [captured_request(r) for r in capture.resources]
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[_captured_stack_resource(r) for r in capture.resources]
    )
    fast_cls = shared_analysis_servicer()
    out: dict[str, Any] = {"resources": len(requests), "pulumi_config": with_config, "rounds": args.rounds}
    totals = {"sdk_s": 0.0, "fast_s": 0.0}
    for pack in PACKS:
        best = {"sdk_s": float("inf"), "fast_s": float("inf")}
        for _ in range(args.rounds):
            for key, cls in (("sdk_s", sdk._PolicyAnalyzerServicer), ("fast_s", fast_cls)):
                seconds, answers = _run(_servicer(cls, pack), requests, stack)
                best[key] = min(best[key], seconds)
                if key == "sdk_s":
                    expected = answers
                elif answers != expected:
                    raise SystemExit(f"{pack}: the fast path answered differently from the SDK")
        totals = {k: totals[k] + best[k] for k in totals}
        out[pack] = {
            **{k: round(v, 3) for k, v in best.items()},
            "ratio": round(best["sdk_s"] / best["fast_s"], 2),
        }
    out["total"] = {
        **{k: round(v, 3) for k, v in totals.items()},
        "ratio": round(totals["sdk_s"] / totals["fast_s"], 2),
        "saved_per_resource_ms": round(
            1000 * (totals["sdk_s"] - totals["fast_s"]) / max(1, len(requests)), 3
        ),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
