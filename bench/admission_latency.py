"""Benchmark: the latency the admission policies add to a write, per request and per rule count.

One run, one machine (not a test): a fresh API server (etcd and kube-apiserver only,
``mlops_platform.tools.local_cluster``), the catalogue's policies for the bundled prod installed, and
namespaces in which the bindings of the first K policies apply (K = 0, 1, 4, 8, 16, all). Each round
sends the same objects (dry run: admission runs in full, nothing is stored) to every namespace in turn,
the order rotating each round; figures are medians and 90th percentiles of the request's wall time as
the client sees it. Prints a table, then one JSON line per (object, K) with the added milliseconds and
the ratio to K = 0, and the added milliseconds per rule.

    .venv/bin/python bench/admission_latency.py --requests 100 --rounds 3

Objects: the bundled prod's fraud-scorer Deployment (every workload rule reads it: the costliest
case), a ConfigMap of it (only the rules on every object match), and the Deployment made privileged
with every binding denying (the denied path).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' small API client (tests/admission/apiserver.py)

from mlops_platform.policies.admission import Target, render  # noqa: E402
from mlops_platform.policies.catalogue import RULES, config_document  # noqa: E402
from mlops_platform.policies.rules._cel import SHARED  # noqa: E402
from mlops_platform.tools.local_cluster import running, toolchain_binaries  # noqa: E402
from tests.admission.apiserver import ApiServer  # noqa: E402

COUNTS = (0, 1, 4, 8, 16)


def _prod_objects() -> dict[str, dict[str, Any]]:
    """Two objects of the bundled prod, as its program declares them (no secret among their inputs)."""
    from mlops_platform.tools.engine.audit import capture_environment
    from mlops_platform.tools.project import Project

    project = Project.load(REPO)
    out = {}
    for resource in capture_environment(REPO / "stacks" / "Pulumi.prod.yaml", project=project).resources:
        if resource.name in ("serving-fraud-scorer-deployment", "monitoring-grafana-datasources"):
            _, group_version, kind = resource.type.split(":")
            obj = copy.deepcopy(resource.inputs)
            obj["apiVersion"], obj["kind"] = group_version.removeprefix("core/"), kind
            obj["metadata"]["name"] = "bench"
            out[resource.name] = obj
    return out


def _binding(policy: str, mode: str, namespaces: list[str]) -> dict[str, Any]:
    """A binding of ``policy`` in ``namespaces`` that warns or denies."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": f"{policy}.{mode}"},
        "spec": {
            "policyName": policy,
            "validationActions": ["Warn"] if mode == "warn" else ["Deny"],
            "matchResources": {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}
                    ]
                }
            },
        },
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=100, help="requests per object, count and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    binaries = toolchain_binaries()
    if binaries is None:
        print("the control plane is not built: run `mlops toolchain install`", file=sys.stderr)
        return 2
    rendered = render(RULES, Target("bench", "bench-all", "prod"), config_document("prod"), (), SHARED)
    rules = [p["metadata"]["labels"]["mlops.dev/rule"] for p in rendered.policies]
    counts = [*COUNTS, len(rules)]
    objects = _prod_objects()
    deployment = objects["serving-fraud-scorer-deployment"]
    privileged = copy.deepcopy(deployment)
    for c in privileged["spec"]["template"]["spec"]["containers"]:
        c["securityContext"]["privileged"] = True
        c["securityContext"].pop("allowPrivilegeEscalation", None)
    cases = {
        "deployment": (deployment, "warn"),
        "configmap": (objects["monitoring-grafana-datasources"], "warn"),
        "deployment-denied": (privileged, "deny"),
    }
    with (
        tempfile.TemporaryDirectory(prefix="bench-admission-") as tmp,
        running(Path(tmp), binaries, controllers=False, allow_privileged=True) as cluster,
    ):
        api = ApiServer(cluster)
        for k in counts:
            for mode in ("warn", "deny"):
                api.apply(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{mode}-{k}"}}
                )
        for policy in rendered.policies:
            api.apply(policy)
        for i, policy in enumerate(rendered.policies):
            for mode in ("warn", "deny"):
                namespaces = [f"bench-{mode}-{k}" for k in counts if i < k]
                api.apply(_binding(policy["metadata"]["name"], mode, namespaces))
        time.sleep(3)  # the API server loads policies and bindings asynchronously
        samples: dict[tuple[str, int], list[float]] = {(c, k): [] for c in cases for k in counts}
        for round_ in range(args.rounds):
            order = counts[round_ % len(counts) :] + counts[: round_ % len(counts)]
            for k in order:
                for case, (obj, mode) in cases.items():
                    body = copy.deepcopy(obj)
                    body["metadata"]["namespace"] = f"bench-{mode}-{k}"
                    api.create(body)  # warm the path (discovery, policy compilation)
                    for _ in range(args.requests):
                        t0 = time.perf_counter()
                        verdict = api.create(body)
                        samples[(case, k)].append((time.perf_counter() - t0) * 1000)
                        assert verdict is not None
                        if mode == "deny" and k > 0:
                            assert verdict.denied is not None, verdict
        lines = []
        header = ("object", "rules", "median ms", "p90 ms", "added ms", "x", "ms/rule")
        print("{:<18} {:>5} {:>10} {:>8} {:>9} {:>6} {:>8}".format(*header))
        for case in cases:
            base = statistics.median(samples[(case, 0)])
            for k in counts:
                median = statistics.median(samples[(case, k)])
                p90 = _percentile(samples[(case, k)], 0.9)
                added = median - base
                line = {
                    "object": case,
                    "rules": k,
                    "median_ms": round(median, 3),
                    "p90_ms": round(p90, 3),
                    "added_ms": round(added, 3),
                    "ratio": round(median / base, 3),
                    "added_ms_per_rule": round(added / k, 4) if k else None,
                    "requests": len(samples[(case, k)]),
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                }
                lines.append(line)
                per_rule = f"{line['added_ms_per_rule']:>8}" if k else f"{'-':>8}"
                row = f"{case:<18} {k:>5} {median:>10.2f} {p90:>8.2f} {added:>9.2f}"
                print(f"{row} {line['ratio']:>6.2f} {per_rule}")
        for line in lines:
            print(json.dumps(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
