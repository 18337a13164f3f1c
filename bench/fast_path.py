"""What the packs' shared-analysis fast path saves: every pack's Analyze and AnalyzeStack, in-process.

Runs the captured resources of an environment file through each pack's servicer twice, pulumi-policy's
own (``_PolicyAnalyzerServicer``) and the fast path's (``shared_analysis_servicer()``), checks that
the answers are byte-identical, and prints the seconds of each. A script, not a test:

    .venv/bin/python bench/fast_path.py stacks/Pulumi.prod.yaml
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy import policy as sdk

from mlops_platform.policies.catalogue import PACKS
from mlops_platform.policies.packs import pack_arguments, shared_analysis_servicer
from mlops_platform.tools.engine.analyzer import _captured_stack_resource, captured_request
from mlops_platform.tools.engine.audit import capture_environment


def _servicer(cls: type, pack: str) -> Any:
    return cls(pack, "1.0.0", list(pack_arguments(pack)["policies"]), EnforcementLevel.MANDATORY, None)


def _run(servicer: Any, requests: list[Any], stack: Any) -> tuple[float, list[bytes]]:
    start = time.perf_counter()
    answers = [servicer.Analyze(r, None).SerializeToString(deterministic=True) for r in requests]
    answers.append(servicer.AnalyzeStack(stack, None).SerializeToString(deterministic=True))
    return time.perf_counter() - start, answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("env_file", type=Path)
    args = parser.parse_args()
    capture = capture_environment(args.env_file)
    requests = [captured_request(r) for r in capture.resources]
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[_captured_stack_resource(r) for r in capture.resources]
    )
    shared = shared_analysis_servicer()
    out: dict[str, Any] = {"resources": len(requests)}
    for pack in PACKS:
        sdk_s, sdk_answers = _run(_servicer(sdk._PolicyAnalyzerServicer, pack), requests, stack)
        fast_s, fast_answers = _run(_servicer(shared, pack), requests, stack)
        if sdk_answers != fast_answers:
            raise SystemExit(f"{pack}: the fast path answered differently")
        out[pack] = {"sdk_s": round(sdk_s, 3), "fast_s": round(fast_s, 3), "ratio": round(sdk_s / fast_s, 2)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
