"""Benchmark: a real ``pulumi up`` against the local API server beside the render-to-directory ``up``.

One run, one machine (not a test): the bundled prod environment and a generated prod with N models
(``bench/run.py``'s generator), each applied with ``mlops up`` semantics (preview with the packs, then
up) to a fresh control plane (``mlops_platform.tools.local_cluster``, CRDs installed first) and rendered to a
directory. Prints one JSON line per environment: seconds of each, resources, and the ratio.

    .venv/bin/python bench/cluster_up.py --models 100
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from mlops_platform.tools.cluster_prereqs import PrerequisiteError, read_crds
from mlops_platform.tools.engine_pulumi.operations import (
    StackChoice,
    check_prerequisites,
    engine_run,
    render_config,
)
from mlops_platform.tools.local_cluster import running, toolchain_binaries
from mlops_platform.tools.toolchain import crd_files

REPO = Path(__file__).resolve().parents[1]


def _generator():  # type: ignore[no-untyped-def]
    """``bench/run.py``'s ``prod_spec`` (a script beside this one, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module.prod_spec


def _crd_sources() -> list[str]:
    sources = []
    for file in sorted({f for group in crd_files().values() for f in group}):
        try:
            read_crds([str(file)])
        except PrerequisiteError:  # gateway-api's standard set also holds an admission policy
            continue
        sources.append(str(file))
    return sources


def _stack(directory: Path, name: str, config: dict) -> Path:  # type: ignore[type-arg]
    config["config"]["mlops-platform:environment"]["await_readiness"] = False  # no nodes here
    path = directory / name / "Pulumi.prod.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="*", default=[100])
    args = parser.parse_args()
    binaries = toolchain_binaries()
    if binaries is None:
        print("run `mlops toolchain install` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mlops-cluster-bench-") as tmp:
        root = Path(tmp)
        bundled = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
        stacks = {"prod": _stack(root, "prod", bundled)}
        for models in args.models:
            stacks[f"prod-{models}"] = _stack(root, f"prod-{models}", _generator()(models))
        for label, env_file in stacks.items():
            with running(root / f"cluster-{label}", binaries) as cluster:
                choice = StackChoice(env_file, local_state=root / f"state-{label}", env=cluster.env())
                t0 = time.perf_counter()
                check_prerequisites(choice, install=_crd_sources())
                prereq_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                applied = engine_run(choice, "up")
                up_s = time.perf_counter() - t0
            rendered_choice = StackChoice(
                env_file,
                local_state=root / f"render-state-{label}",
                config=render_config(root / f"out-{label}"),
            )
            t0 = time.perf_counter()
            rendered = engine_run(rendered_choice, "up")
            render_s = time.perf_counter() - t0
            line = {
                "environment": label,
                "resources": sum(applied.changes.values()),
                "cluster_start_s": round(cluster.started_s, 2),
                "prerequisites_s": round(prereq_s, 2),
                "up_cluster_s": round(up_s, 2),
                "up_render_s": round(render_s, 2),
                "cluster_over_render": round(up_s / render_s, 2),
                "changes": applied.changes,
                "render_changes": rendered.changes,
            }
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
