"""Benchmark: validate, preview and audit at N models, beside the SDK floor and Checkov (not a test).

Usage:
    .venv/bin/python bench/run.py --models 100
    .venv/bin/python bench/run.py --models 10 100 1000 --repeat 3 --repeat-large 1

For each N it generates a prod environment with N models (``stacks/Pulumi.prod.yaml`` with its
models replaced: canaries on a quarter, every risk tier and classification under the ceiling,
digest-pinned images, registry versions and aliases) into a temporary stacks directory, then runs,
interleaved (the order rotates each round), ``--repeat`` rounds of:

- ``mlops validate``, ``mlops preview`` (table) and ``mlops audit --format json`` on that file;
- the SDK floor: ``bench/sdk_floor.py``, the same program under bare Pulumi mocks in a fresh process
  (``floor``: ``set_mocks``, as the issue defines it), and ``floor-host``: the same run as the language
  host runs a program (``run_in_stack``, every outstanding output awaited), the audit's process model,
  and ``floor-gc``: ``floor`` with the cyclic GC paused as the engine pauses it (the same interpreter
  setting, so the audit's ratio to it is the capture's and the packs' cost alone);
- Checkov on the same platform's Kubernetes objects as YAML manifests (one file per object, written
  from ``mlops preview --format json``), from its own virtualenv in the project's build cache
  (``~/.cache/mlops-platform/venvs``, created with ``pip install checkov==3.3.30`` when missing: its
  dependencies clash with ours).

Each run is a subprocess: wall time, and peak memory as the largest sum of RSS over the process tree
(``/proc`` polled every 20 ms). Figures are medians. ``--repeat-large`` sets the rounds for N >= 1000
(each 1,000-model Checkov run takes minutes); the table says how many rounds each N had.

Output: a rich table, then one JSON line per N (in the order given) with ``models``, ``resources``,
``audit_s``, ``floor_s``, ``checkov_s``, ``audit_over_floor``, ``checkov_over_audit``, ``peak_mb`` (the
audit's) and more.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from mlops_platform.tools import build_cache
from mlops_platform.tools.reports.report_model import load_report

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MLOPS = BIN / "mlops"
CHECKOV_VERSION = "3.3.30"
POLL_S = 0.02
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SECRET_MARKER = {"<secret>": "redacted"}
UNKNOWN_MARKER = "<unknown>"

# -- the generated environment ------------------------------------------------------------------

_FAMILIES = (
    "fraud-scorer",
    "churn-predictor",
    "recommender",
    "ltv-forecaster",
    "search-ranker",
    "credit-limit",
    "demand-planner",
    "doc-classifier",
    "anomaly-detector",
    "price-optimizer",
)
_RISK_TIERS = ("minimal", "limited", "high")
_CLASSIFICATIONS = ("public", "internal", "confidential")  # prod's ceiling is confidential
_SHAPES: tuple[dict[str, Any], ...] = (
    {"replicas": {"min": 2, "max": 6}},
    {
        "replicas": {"min": 3, "max": 12},
        "resources": {
            "requests": {"cpu_millicores": 500, "memory_mib": 1024},
            "limits": {"cpu_millicores": 2000, "memory_mib": 2048},
        },
    },
    {
        "replicas": {"min": 4, "max": 20},
        "resources": {
            "requests": {"cpu_millicores": 1000, "memory_mib": 2048},
            "limits": {"cpu_millicores": 4000, "memory_mib": 4096},
        },
    },
)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def model_entry(i: int) -> dict[str, Any]:
    """The i-th generated model: deterministic, valid, and varied across the prod policy space."""
    family = _FAMILIES[i % len(_FAMILIES)]
    name = f"{family}-{i:04d}"
    version = f"{1 + i % 5}.{i % 13}.{i % 7}"
    entry: dict[str, Any] = {
        "name": name,
        "image": f"ghcr.io/acme-ml/{family}:{version}@sha256:{_digest(name)}",
        "model": {"name": name, "alias": "champion"} if i % 2 == 0 else {"name": name, "version": 1 + i % 40},
        **copy.deepcopy(_SHAPES[i % len(_SHAPES)]),
        "slo": {"p99_latency_ms": 50 + 25 * (i % 16), "error_rate": (0.001, 0.005, 0.01)[i % 3]},
    }
    tier = _RISK_TIERS[(i // 2) % len(_RISK_TIERS)]
    governance: dict[str, Any] = {
        "owner": f"{family.split('-')[0]}-ml@acme.example",
        "risk_tier": tier,
        "data_classification": _CLASSIFICATIONS[(i // 3) % len(_CLASSIFICATIONS)],
    }
    if tier == "high":
        governance["model_card_url"] = f"https://models.acme.example/cards/{name}"
        governance["approval_ref"] = f"MRM-2026-{i:04d}"
    entry["governance"] = governance
    if i % 4 == 0:  # canary: an alias beside an alias, a newer version beside a version
        if "alias" in entry["model"]:
            entry["canary"] = {"alias": "challenger", "weight": 5 + i % 20}
        else:
            entry["canary"] = {"version": entry["model"]["version"] + 1, "weight": 5 + i % 20}
        if i % 8 == 0:
            canary_version = f"{2 + i % 5}.0.0"
            entry["canary"]["image"] = (
                f"ghcr.io/acme-ml/{family}:{canary_version}@sha256:{_digest(name + canary_version)}"
            )
    if i % 5 == 0:
        entry["drift"] = {"psi_threshold": 0.1, "schedule": "*/30 * * * *"}
    return entry


def prod_spec(models: int) -> dict[str, Any]:
    """The bundled prod stack file with its models replaced by ``models`` generated ones."""
    stack = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    stack["config"]["mlops-platform:serving"]["models"] = [model_entry(i) for i in range(models)]
    return stack


def write_stack(directory: Path, models: int) -> Path:
    """``directory/stacks/Pulumi.prod.yaml`` (a prod stack: the prod policy config applies)."""
    stacks = directory / "stacks"
    stacks.mkdir(parents=True, exist_ok=True)
    path = stacks / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(prod_spec(models), sort_keys=False), encoding="utf-8")
    return path


# -- Kubernetes manifests for Checkov -------------------------------------------------------------


def _manifest_value(value: Any) -> Any:
    if value == SECRET_MARKER:
        return "redacted"
    if value == UNKNOWN_MARKER:
        return "unknown"
    if isinstance(value, dict):
        return {k: _manifest_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_manifest_value(v) for v in value]
    return value


def write_manifests(preview: dict[str, Any], directory: Path) -> int:
    """One YAML manifest per Kubernetes object of the preview (its inputs are the object); the count."""
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for resource in preview["resources"]:
        inputs = resource["inputs"]
        if not resource["type"].startswith("kubernetes:") or "kind" not in inputs:
            continue
        body = {k: _manifest_value(v) for k, v in inputs.items() if not k.startswith("__")}
        ordered = {k: body.pop(k) for k in ("apiVersion", "kind", "metadata") if k in body} | body
        written += 1
        path = directory / f"{written:05d}-{inputs['kind'].lower()}.yaml"
        path.write_text(yaml.safe_dump(ordered, sort_keys=False), encoding="utf-8")
    return written


def ensure_checkov() -> Path:
    """The checkov executable of its own cached virtualenv, built once (atomically, under a lock)."""
    python = build_cache.ensure_venv(
        "checkov",
        [f"checkov=={CHECKOV_VERSION}"],
        check=f"import checkov.version as v; assert v.version == {CHECKOV_VERSION!r}, v.version",
    )
    return python.parent / "checkov"


def checkov_checks(report: Any) -> int:
    """Checks Checkov ran (passed + failed + skipped) from its JSON report (an object or a list)."""
    reports = report if isinstance(report, list) else [report]
    total = 0
    for entry in reports:
        summary = entry.get("summary", {}) if isinstance(entry, dict) else {}
        total += sum(int(summary.get(k, 0)) for k in ("passed", "failed", "skipped"))
    return total


# -- measuring a subprocess ---------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, now."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += _rss_bytes(current)
        stack.extend(_children(current))
    return total


@dataclass(slots=True)
class Run:
    seconds: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str
    capped: bool = False  # killed at the time cap: ``seconds`` is the cap, not a finish


def measure(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    ok: Callable[[int], bool],
    cap_s: float | None = None,
) -> Run:
    """Run ``argv`` from the repository root; wall time and peak RSS of its process tree.

    With ``cap_s``, a run still going after that many seconds is killed (its whole process tree)
    and reported as capped.
    """
    peak = 0
    capped = False
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
        )
        done = threading.Event()

        def poll() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(proc.pid))
                done.wait(POLL_S)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            returncode = proc.wait(timeout=cap_s)
        except subprocess.TimeoutExpired:
            capped = True
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its plugins and the packs
            returncode = proc.wait()
        seconds = time.perf_counter() - started
        done.set()
        poller.join()
        out.seek(0)
        err.seek(0)
        run = Run(seconds, peak / 2**20, returncode, out.read().decode(errors="replace"), "", capped)
        run.stderr = err.read().decode(errors="replace")
    if not capped and not ok(returncode):
        raise SystemExit(f"{' '.join(argv)} exited {returncode}:\n{run.stderr[-3000:]}")
    return run


# -- one size -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Size:
    models: int
    rounds: int
    resources: int = 0
    k8s_objects: int = 0
    audit_checks: int = 0  # applicable evaluations (summary.checks)
    audit_not_applicable: int = 0  # pairs the rules declared out of scope, counted apart
    checkov_checks: int = 0
    floor_registered: int = 0
    same_findings: bool | None = None  # offline audit and real preview: the same violations
    runs: dict[str, list[Run]] = field(default_factory=dict)
    json_bytes: int | None = None  # the timed audit's JSON report (default evidence)
    report_bytes: dict[str, int] = field(default_factory=dict)  # every format, from the profiled run
    full_json_bytes: int | None = None  # the JSON report with --evidence full
    profile_s: float | None = None  # the profiled audit's own time (cProfile slows it down)
    profile_top: list[dict[str, Any]] = field(default_factory=list)

    def median(self, tool: str) -> float | None:
        runs = self.runs.get(tool)
        return statistics.median(r.seconds for r in runs) if runs else None

    def peak(self, tool: str) -> float | None:
        runs = self.runs.get(tool)
        return max(r.peak_mb for r in runs) if runs else None


def _tools(stack: Path, workdir: Path, checkov: Path | None) -> dict[str, tuple[list[str], Any, Any]]:
    """The timed commands of one size (the real-engine audit is timed apart: see ``bench_engine``)."""
    py = str(BIN / "python")
    tools: dict[str, tuple[list[str], Any, Any]] = {
        "validate": ([str(MLOPS), "validate", str(stack)], None, lambda rc: rc == 0),
        "preview": ([str(MLOPS), "preview", str(stack)], None, lambda rc: rc == 0),
        "audit": (
            # every round writes the same file: --force (the writer refuses to replace a file otherwise)
            [
                str(MLOPS),
                "audit",
                str(stack),
                "-f",
                "json",
                "--output",
                str(workdir / "audit.json"),
                "--force",
            ],
            None,
            lambda rc: rc in (0, 1),
        ),
        "floor": ([py, str(REPO / "bench" / "sdk_floor.py"), str(stack)], None, lambda rc: rc == 0),
        "floor-host": (
            [py, str(REPO / "bench" / "sdk_floor.py"), str(stack), "--host"],
            None,
            lambda rc: rc == 0,
        ),
        "floor-gc": (
            [py, str(REPO / "bench" / "sdk_floor.py"), str(stack), "--paused-gc"],
            None,
            lambda rc: rc == 0,
        ),
    }
    if checkov is not None:
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
        argv = [str(checkov), "-d", str(workdir / "manifests"), "--framework", "kubernetes"]
        argv += ["--skip-download", "--quiet", "--compact", "-o", "json"]
        tools["checkov"] = (argv, env, lambda rc: rc in (0, 1))
    return tools


def bench_size(models: int, rounds: int, checkov: Path | None, workdir: Path, console: Console) -> Size:
    size = Size(models, rounds)
    stack = write_stack(workdir, models)
    # Untimed: the preview as JSON gives the resource count and the objects Checkov scans.
    preview = measure([str(MLOPS), "preview", str(stack), "--format", "json"], ok=lambda rc: rc == 0)
    doc = json.loads(preview.stdout)
    size.resources = len(doc["resources"])
    size.k8s_objects = write_manifests(doc, workdir / "manifests")
    tools = _tools(stack, workdir, checkov)
    names = list(tools)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            argv, env, ok = tools[name]
            run = measure(argv, env=env, ok=ok)
            size.runs.setdefault(name, []).append(run)
            where = f"{models} models, round {r + 1}/{rounds}"
            console.log(f"{where}: {name} {run.seconds:.2f} s, {run.peak_mb:.0f} MB")
            if name == "audit":
                size.json_bytes = (workdir / "audit.json").stat().st_size
                (audited,) = load_report(workdir / "audit.json").environments  # one environment
                size.audit_checks = audited.summary.checks
                size.audit_not_applicable = audited.summary.not_applicable
                seen = audited.summary.resources
                if seen != size.resources:
                    raise SystemExit(f"audit saw {seen} resources, preview {size.resources}")
            elif name.startswith("floor"):
                size.floor_registered = int(json.loads(run.stdout.strip().splitlines()[-1])["registered"])
            elif name == "checkov":
                size.checkov_checks = checkov_checks(json.loads(run.stdout))
    return size


REPORT_FORMATS = ("text", "json", "sarif", "junit", "markdown", "html")
PROFILE_TOP = 10


def bench_reports(size: Size, workdir: Path, *, full_evidence: bool, console: Console) -> None:
    """Untimed: every report format's size and a profile of the audit's process; the full JSON's size.

    One audit under cProfile (``bench/profile_audit.py``) writes every format (default evidence):
    its top functions by own time and the size of each file. With ``full_evidence``, one more audit
    writes the JSON with ``--evidence full`` (its wall time and peak are kept as ``audit-full``).
    """
    stack = workdir / "stacks" / "Pulumi.prod.yaml"
    out = workdir / "reports"
    formats = [arg for fmt in REPORT_FORMATS for arg in ("--format", fmt)]
    profiler = [str(BIN / "python"), str(REPO / "bench" / "profile_audit.py"), "--top", str(PROFILE_TOP)]
    run = measure(
        [*profiler, "--", "audit", str(stack), *formats, "--output", str(out)], ok=lambda rc: rc in (0, 1)
    )
    profile = json.loads(run.stdout.strip().splitlines()[-1])
    size.profile_s = float(profile["seconds"])
    size.profile_top = list(profile["top"])
    size.report_bytes = {
        fmt: (out / f"mlops-audit{suffix}").stat().st_size
        for fmt, suffix in zip(
            REPORT_FORMATS, (".txt", ".json", ".sarif", ".xml", ".md", ".html"), strict=True
        )
    }
    console.log(f"{size.models} models: reports {size.report_bytes}, profiled audit {size.profile_s:.2f} s")
    if full_evidence:
        report = workdir / "audit-full.json"
        argv = [
            str(MLOPS),
            "audit",
            str(stack),
            "--format",
            "json",
            "--evidence",
            "full",
            "--output",
            str(report),
        ]
        size.runs["audit-full"] = [measure(argv, ok=lambda rc: rc in (0, 1))]
        size.full_json_bytes = report.stat().st_size
        load_report(report)  # the full report reads as the default one does


@dataclass(slots=True)
class LargeValidate:
    models: int
    stack_bytes: int
    runs: list[Run]


def bench_validate(models: int, rounds: int, workdir: Path, console: Console) -> LargeValidate:
    """``mlops validate`` of one large generated stack file (``rounds`` runs); a refusal is a result too."""
    stack = write_stack(workdir, models)
    runs = [measure([str(MLOPS), "validate", str(stack)], ok=lambda rc: rc in (0, 2)) for _ in range(rounds)]
    for run in runs:
        console.log(f"validate {models} models: exit {run.returncode}, {run.seconds:.2f} s")
    return LargeValidate(models, stack.stat().st_size, runs)


def validate_line(large: LargeValidate) -> dict[str, Any]:
    last = large.runs[-1]
    return {
        "validate_models": large.models,
        "stack_file_bytes": large.stack_bytes,
        "validate_s": _round(statistics.median(r.seconds for r in large.runs)),
        "validate_exit": last.returncode,
        "validate_message": (last.stderr.strip().splitlines() or last.stdout.strip().splitlines() or [""])[
            -1
        ],
        "validate_peak_mb": _round(max(r.peak_mb for r in large.runs), 0),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def _violations(report: Path) -> set[tuple[str, str, str]]:
    (audited,) = load_report(report).environments  # one environment
    return {(v.policy, v.urn, v.message) for v in audited.violations}


def bench_engine(size: Size, workdir: Path, cap_s: float, console: Console) -> None:
    """One real ``pulumi preview`` with the packs (``mlops audit --engine pulumi``), capped, same stack file.

    One round: at 100 models it costs about ten offline audits. Its findings are compared with the
    offline audit's of the same run.
    """
    stack = workdir / "stacks" / "Pulumi.prod.yaml"
    report = workdir / "audit-engine.json"
    argv = [
        str(MLOPS),
        "audit",
        str(stack),
        "--engine",
        "pulumi",
        "--format",
        "json",
        "--output",
        str(report),
    ]
    run = measure(argv, ok=lambda rc: rc in (0, 1), cap_s=cap_s)
    size.runs["audit-engine"] = [run]
    state = f"over the {cap_s:.0f} s cap" if run.capped else f"{run.seconds:.2f} s, {run.peak_mb:.0f} MB"
    console.log(f"{size.models} models: audit --engine pulumi {state}")
    if not run.capped:
        size.same_findings = _violations(report) == _violations(workdir / "audit.json")
        if not size.same_findings:
            raise SystemExit(f"{size.models} models: the real preview and the offline audit disagree")


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def result_line(size: Size) -> dict[str, Any]:
    audit, floor, host, floor_gc, checkov, engine = (
        size.median(t) for t in ("audit", "floor", "floor-host", "floor-gc", "checkov", "audit-engine")
    )
    engine_capped = any(r.capped for r in size.runs.get("audit-engine", []))
    return {
        "models": size.models,
        "resources": size.resources,
        "rounds": size.rounds,
        "validate_s": _round(size.median("validate")),
        "preview_s": _round(size.median("preview")),
        "audit_s": _round(audit),
        "floor_s": _round(floor),
        "floor_host_s": _round(host),
        "floor_gc_s": _round(floor_gc),
        "checkov_s": _round(checkov),
        "audit_over_floor": _ratio(audit, floor),
        "audit_over_floor_host": _ratio(audit, host),
        "audit_over_floor_gc": _ratio(audit, floor_gc),
        "checkov_over_audit": _ratio(checkov, audit),
        "engine_audit_s": _round(engine),
        "engine_capped": engine_capped if "audit-engine" in size.runs else None,
        "engine_over_audit": None if engine_capped else _ratio(engine, audit),
        "same_findings": size.same_findings,
        "peak_mb": _round(size.peak("audit"), 0),
        "preview_peak_mb": _round(size.peak("preview"), 0),
        "checkov_peak_mb": _round(size.peak("checkov"), 0),
        "audit_checks": size.audit_checks,
        "audit_not_applicable": size.audit_not_applicable,
        "checkov_checks": size.checkov_checks if "checkov" in size.runs else None,
        "k8s_objects": size.k8s_objects,
        "report_json_bytes": size.json_bytes,
        "report_bytes": size.report_bytes or None,
        "report_full_json_bytes": size.full_json_bytes,
        "audit_full_evidence_s": _round(size.median("audit-full")),
        "audit_full_evidence_peak_mb": _round(size.peak("audit-full"), 0),
        "profile_s": size.profile_s,
        "profile_top": size.profile_top or None,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return round(value, digits) if value is not None else None


def table(sizes: list[Size]) -> Table:
    out = Table(title="mlops bench (median wall time, peak RSS of the process tree)")
    for column in ("models", "resources", "tool", "rounds", "median s", "min-max s", "peak MB", "checks"):
        out.add_column(column, justify="left" if column == "tool" else "right")
    for size in sizes:
        for tool, runs in size.runs.items():
            checks = {"audit": size.audit_checks, "checkov": size.checkov_checks}.get(tool)
            seconds = [r.seconds for r in runs]
            out.add_row(
                str(size.models),
                str(size.resources),
                tool,
                str(len(runs)),
                f"{statistics.median(seconds):.2f}",
                f"{min(seconds):.2f}-{max(seconds):.2f}",
                f"{max(r.peak_mb for r in runs):.0f}",
                ""
                if checks is None
                else f"{checks:,}" + (f" (+{size.audit_not_applicable:,} n/a)" if tool == "audit" else ""),
            )
        line = result_line(size)
        out.add_row(
            "",
            "",
            "audit/floor",
            "",
            f"{line['audit_over_floor']}x",
            f"host {line['audit_over_floor_host']}x, gc {line['audit_over_floor_gc']}x",
            "",
            f"checkov/audit {line['checkov_over_audit']}x" if line["checkov_over_audit"] else "",
        )
        if "audit-engine" in size.runs:
            engine = "over the cap" if line["engine_capped"] else f"{line['engine_over_audit']}x"
            same = {True: "same findings", False: "DIFFERENT findings", None: ""}[size.same_findings]
            out.add_row("", "", "engine/audit", "", engine, "", "", same)
        out.add_section()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, nargs="+", default=[100])
    parser.add_argument("--repeat", type=int, default=3, help="Rounds per size (median of these).")
    parser.add_argument("--repeat-large", type=int, default=None, help="Rounds for sizes >= 1,000 models.")
    parser.add_argument("--no-checkov", action="store_true", help="Skip Checkov.")
    parser.add_argument("--keep", type=Path, help="Keep the generated stacks and manifests here.")
    parser.add_argument(
        "--engine",
        type=int,
        nargs="*",
        default=None,
        metavar="MODELS",
        help="Also run `mlops audit --engine pulumi` at these sizes (default: those up to 100 models).",
    )
    parser.add_argument("--engine-cap-s", type=float, default=1800.0, help="Time cap of one real preview.")
    parser.add_argument(
        "--full-evidence",
        type=int,
        nargs="*",
        default=None,
        metavar="MODELS",
        help="Also write the JSON with --evidence full at these sizes (default: those up to 1,000 models).",
    )
    parser.add_argument(
        "--validate-models",
        type=int,
        default=20_000,
        help="Time `mlops validate` of one generated stack file of this many models (0: skip).",
    )
    args = parser.parse_args()
    console = Console(stderr=True)
    checkov = None if args.no_checkov else ensure_checkov()
    sizes: list[Size] = []
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        root = args.keep or Path(tmp)
        for models in args.models:
            rounds = args.repeat_large if models >= 1000 and args.repeat_large else args.repeat
            size = bench_size(models, rounds, checkov, root / f"models-{models}", console)
            engine_sizes = [m for m in args.models if m <= 100] if args.engine is None else args.engine
            if models in engine_sizes:
                bench_engine(size, root / f"models-{models}", args.engine_cap_s, console)
            full_sizes = (
                [m for m in args.models if m <= 1000] if args.full_evidence is None else args.full_evidence
            )
            bench_reports(
                size, root / f"models-{models}", full_evidence=models in full_sizes, console=console
            )
            sizes.append(size)
        large = None
        if args.validate_models:
            large = bench_validate(args.validate_models, args.repeat, root / "validate", console)
    Console(width=120).print(table(sizes))
    for size in sizes:
        Console(width=120).print(profile_table(size))
    for size in sizes:
        print(json.dumps(result_line(size)))
    if large is not None:
        print(json.dumps(validate_line(large)))
    return 0


def profile_table(size: Size) -> Table:
    out = Table(
        title=f"{size.models} models: the audit's process under cProfile ({size.profile_s} s), top own time"
    )
    for column in ("function", "own s", "cumulative s", "calls"):
        out.add_column(column, justify="left" if column == "function" else "right")
    for row in size.profile_top:
        out.add_row(row["function"], f"{row['own_s']:.2f}", f"{row['cumulative_s']:.2f}", f"{row['calls']:,}")
    sizes = ", ".join(f"{fmt} {n / 1024:,.0f} KiB" for fmt, n in size.report_bytes.items())
    out.caption = f"reports (default evidence): {sizes}" + (
        f"; JSON with --evidence full {size.full_json_bytes / 1024:,.0f} KiB" if size.full_json_bytes else ""
    )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
